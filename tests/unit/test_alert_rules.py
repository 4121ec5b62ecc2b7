"""The alert rules as a whole: each uses only metrics the hub exports, has a description
and a runbook section, and is tested firing and quiet in alerts.test.yml (which
promtool runs in make lint)."""

import re
from pathlib import Path

import pytest
import yaml

from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.metrics import HubMetrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The series a metric family of each type is exposed as.
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


@pytest.fixture(scope="module")
def alerts() -> dict[str, dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    """Every alert_rule_test case of alerts.test.yml."""
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    return [case for test in tests for case in test["alert_rule_test"]]


def exported() -> set[str]:
    return {
        family.name + suffix
        for family in HubMetrics(["lappi"], FAMILIES.values()).registry.collect()
        for suffix in SERIES_SUFFIXES[family.type]
    }


def test_every_metric_an_alert_uses_is_one_the_hub_exports(alerts) -> None:
    names = exported()
    assert {"pelastus_hub_records_total", "pelastus_hub_department_stale"} <= names
    for alert, rule in alerts.items():
        # `up` is Prometheus's own, per scraped worker.
        used = set(re.findall(r"\b(pelastus_hub_[a-z0-9_]+|up)\b", rule["expr"]))
        assert used, alert
        assert used - {"up"} <= names, (alert, used - names)


def test_a_total_outage_is_an_alert(alerts) -> None:
    assert "absent(up" in alerts["HubDown"]["expr"]


def test_every_alert_has_a_severity_a_description_and_a_runbook_section(alerts) -> None:
    headings = {
        line.removeprefix("## ").strip().lower()
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for alert, rule in alerts.items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), alert
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], alert
        path, _, anchor = annotations["runbook_url"].partition("#")
        assert path == "docs/runbook.md", alert
        assert anchor == alert.lower() and anchor in headings, alert


def test_every_alert_is_tested_firing_and_quiet(alerts, cases) -> None:
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert firing == set(alerts)
    assert quiet == set(alerts)
