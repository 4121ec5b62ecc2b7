"""The Grafana dashboard in deploy/grafana/: every metric its queries use is one the hub
exports (or Prometheus' own `up`), every panel has a title and a query, and every query goes
to the Prometheus datasource the dashboard's `datasource` variable picks."""

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pelastus_hub.runtime.metrics import HubMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "pelastus-hub.json"
SCRAPE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DATASOURCE = "${datasource}"
# Series Prometheus makes itself for every scrape target.
PROMETHEUS_OWN = {"up"}
# The series a metric family of each type is exposed as, in the text format.
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "unknown": ("",),
}

# PromQL parts that hold no metric name, removed before the names are taken.
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
LABEL_MATCHERS = re.compile(r"\{[^{}]*\}")  # no braces nest once the strings are gone
RANGE = re.compile(r"\[[^\[\]]*\]")  # [5m], [1h:30s]
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
OFFSET = re.compile(r"\boffset\s+-?[\w.]+")
# An identifier not inside a number (1e3, 0x1f), and whether a `(` follows it: a function.
IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    rest = STRING.sub(" ", expr)
    rest = GRAFANA_VARIABLE.sub(" ", rest)
    rest = LABEL_MATCHERS.sub(" ", rest)
    rest = RANGE.sub(" ", rest)
    rest = GROUPING.sub(" ", rest)
    rest = OFFSET.sub(" ", rest)
    return {
        name for name, call in IDENTIFIER.findall(rest) if not call and name.lower() not in KEYWORDS
    }


def variable_expr(query: str) -> str:
    """The PromQL in a Prometheus query variable's query, as Grafana reads it."""
    if found := re.fullmatch(r"\s*label_values\((.*),\s*[a-zA-Z_]\w*\s*\)\s*", query, re.S):
        return found[1]  # label_values(selector, label)
    if re.fullmatch(r"\s*label_values\(\s*[a-zA-Z_]\w*\s*\)\s*", query):
        return ""  # label_values(label): every metric's
    if found := re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.S):
        return found[1]
    raise AssertionError(f"a variable query this test cannot read: {query!r}")


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, also those inside a collapsed row."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def query_variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in dashboard["templating"]["list"] if v["type"] == "query"]


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target['refId']}", target["expr"]
    for variable in query_variables(dashboard):
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        yield f"variable {variable['name']!r}", variable_expr(text)


def exported_series() -> set[str]:
    """The series names /metrics of a worker has or will have: each family's by its type
    (a labelled metric shows no sample before its first labels), and every sample's."""
    text = generate_latest(HubMetrics(["lappi"]).registry).decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SERIES_SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


EXPORTED = exported_series()


def unknown_metrics(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """Metric names the dashboard's queries use that neither the hub nor Prometheus has,
    by query."""
    unknown = {}
    for where, expr in queries(dashboard):
        if names := metric_names(expr) - EXPORTED - PROMETHEUS_OWN:
            unknown[where] = names
    return unknown


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('up{job="pelastus-hub"} == 0', {"up"}),
        (
            "sum by (department, status_class) (max by (department, unit_type, status_class) "
            '(pelastus_hub_units{department=~"$department"}))',
            {"pelastus_hub_units"},
        ),
        (
            "histogram_quantile(0.99, sum by (le) "
            "(rate(pelastus_hub_batch_processing_seconds_bucket[$__rate_interval])))",
            {"pelastus_hub_batch_processing_seconds_bucket"},
        ),
        (
            'sum(rate(a_total{outcome="x"}[5m] offset 1h)) without (instance) / on (department) '
            "group_left (region) b > bool 1e3 unless c:recorded",
            {"a_total", "b", "c:recorded"},
        ),
        (
            "time() - max(pelastus_hub_last_event_timestamp_seconds)",
            {"pelastus_hub_last_event_timestamp_seconds"},
        ),
        ('label_replace(x, "dst", "$1", "src", "(.*)") * 0x1f', {"x"}),
        ('sum(y{topic=~"dept\\\\.$department\\\\..+"}) by (topic)', {"y"}),
        ("max_over_time(z[1h:1m]) and w", {"z", "w"}),
    ],
)
def test_metric_names_of_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_hub_s_own_series_are_known() -> None:
    assert {
        "pelastus_hub_records_total",
        "pelastus_hub_units",
        "pelastus_hub_batch_processing_seconds_bucket",
        "process_cpu_seconds_total",
    } <= EXPORTED
    # A counter's family name, or a histogram's, is no series of its own.
    assert not {"pelastus_hub_records", "pelastus_hub_batch_processing_seconds"} & EXPORTED


def test_every_metric_the_dashboard_uses_is_one_the_hub_exports(dashboard) -> None:
    for where, expr in queries(dashboard):
        assert metric_names(expr), where  # a query that selects nothing: a parsing slip
    assert unknown_metrics(dashboard) == {}


@pytest.mark.parametrize(
    ("right", "wrong"),
    [
        ("pelastus_hub_records_total", "pelastus_hub_record_total"),  # panels and variable
        ("pelastus_hub_units{", "pelastus_hub_unit{"),
        ("pelastus_hub_batch_processing_seconds_bucket", "pelastus_hub_batch_processing_bucket"),
        ("pelastus_hub_snapshots_published_total", "pelastus_hub_snapshots_published"),
        ("up{", "upp{"),
    ],
)
def test_a_misspelled_metric_is_found(dashboard, right: str, wrong: str) -> None:
    text = json.dumps(dashboard)
    assert right in text
    misspelled = json.loads(text.replace(right, wrong))
    found = unknown_metrics(misspelled)
    assert found, wrong
    assert set().union(*found.values()) == {wrong.rstrip("{")}


def test_the_department_variable_query_is_checked(dashboard) -> None:
    changed = copy.deepcopy(dashboard)
    (variable,) = [v for v in query_variables(changed) if v["name"] == "department"]
    variable["query"]["query"] = "label_values(pelastus_hub_recordz_total, department)"
    assert unknown_metrics(changed) == {"variable 'department'": {"pelastus_hub_recordz_total"}}


def test_every_panel_has_a_title_a_query_and_an_id_of_its_own(dashboard) -> None:
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        assert panel.get("title", "").strip(), panel["id"]
        if panel["type"] == "row":
            continue
        targets = panel.get("targets", [])
        assert targets, panel["title"]
        for target in targets:
            assert target.get("expr", "").strip(), (panel["title"], target["refId"])
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_every_query_goes_to_the_datasource_variable(dashboard) -> None:
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    wanted = {"type": "prometheus", "uid": DATASOURCE}
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == wanted, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == wanted, (panel["title"], target["refId"])
    for variable in query_variables(dashboard):
        assert variable["datasource"] == wanted, variable["name"]


def test_the_department_variable(dashboard) -> None:
    (variable,) = [v for v in query_variables(dashboard) if v["name"] == "department"]
    assert variable["multi"] and variable["includeAll"]
    assert variable["query"]["query"] == "label_values(pelastus_hub_records_total, department)"
    # A department=~"$department" matcher takes the regex "All" stands for.
    assert variable["allValue"] == ".*"


def test_every_variable_a_query_uses_is_defined(dashboard) -> None:
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for where, expr in queries(dashboard):
        for name in re.findall(r"\$\{?(\w+)", expr):
            assert name in defined or name.startswith("__"), (where, name)


def test_the_job_the_queries_name_is_the_scrape_job() -> None:
    jobs = set(re.findall(r"job_name:\s*[\"']?([\w.-]+)", SCRAPE_CONFIG.read_text()))
    used = set(re.findall(r'\bjob="([^"]*)"', DASHBOARD.read_text().replace('\\"', '"')))
    assert used, "up and the process metrics are chosen by their scrape job"
    assert used <= jobs, used - jobs
