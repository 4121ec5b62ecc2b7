"""The worker's Prometheus metrics: security events, and the alert rules that use them."""

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pelastus_hub.contract.reasons import SECURITY_REASONS, Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.runtime.metrics import HubMetrics
from tests.unit.helpers import NOW, SCHEMAS, event, new_store, record

REGISTRY = Registry.load(SCHEMAS)
ROUTES = input_routes(REGISTRY, FAMILIES.values())
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
SECURITY = "pelastus_hub_security_events_total"
# The series a metric family of each type is exposed as.
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


def batch_into(metrics: HubMetrics, *records) -> None:
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    stores = {name: new_store(name) for name in FAMILIES}
    result = process_batch(records, ROUTES, validator, stores, NOW)
    metrics.record_batch(result, NOW, 0.01)


def samples(metrics: HubMetrics, name: str) -> dict[tuple[str, str], float]:
    """The counter's samples by (department, reason), as /metrics shows them."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.labels["department"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_every_department_s_security_series_starts_at_zero() -> None:
    assert samples(HubMetrics(REGISTRY.codes), SECURITY) == {
        (code, reason): 0.0 for code in REGISTRY.codes for reason in SECURITY_REASONS
    }


def test_a_record_claiming_another_department_is_a_security_event_of_its_sender() -> None:
    metrics = HubMetrics(REGISTRY.codes)
    # pirkanmaa's topic, lappi's data: the sender is pirkanmaa.
    batch_into(metrics, record(event(department="lappi")), record(event(department="narnia")))
    counted = {key: value for key, value in samples(metrics, SECURITY).items() if value}
    assert counted == {
        ("pirkanmaa", Reason.DEPARTMENT_MISMATCH): 1.0,
        ("pirkanmaa", Reason.DEPARTMENT_UNKNOWN): 1.0,
    }
    assert samples(metrics, "pelastus_hub_dead_letters_total") == counted  # dead letters too


def test_other_dead_letters_are_no_security_event() -> None:
    metrics = HubMetrics(REGISTRY.codes)
    batch_into(
        metrics,
        record(event(crew=-1)),  # schema_invalid
        record(event(), key=b"RPI999"),  # key_mismatch: its own department, a wrong key
    )
    assert samples(metrics, "pelastus_hub_dead_letters_total") == {
        ("pirkanmaa", Reason.SCHEMA_INVALID): 1.0,
        ("pirkanmaa", Reason.KEY_MISMATCH): 1.0,
    }
    assert not any(samples(metrics, SECURITY).values())


def alert_expressions(text: str) -> dict[str, str]:
    """Each alert's expr in the rules file, by alert name: inline or a `|` block."""
    exprs: dict[str, str] = {}
    alert = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if found := re.match(r"\s*- alert: (\S+)", line):
            alert = found[1]
        elif (found := re.match(r"(\s*)expr: ?(.*)", line)) and alert:
            indent, value = len(found[1]), found[2].strip()
            if value in ("|", ">", "|-", ">-"):
                block = []
                for following in lines[i + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(block)
            exprs[alert] = value
    return exprs


def test_every_metric_an_alert_uses_is_one_the_hub_exports() -> None:
    exprs = alert_expressions(ALERTS.read_text())
    assert "HubSecurityEvents" in exprs and SECURITY in exprs["HubSecurityEvents"]
    exported = {
        family.name + suffix
        for family in HubMetrics().registry.collect()
        for suffix in SERIES_SUFFIXES[family.type]
    }
    assert {"pelastus_hub_records_total", SECURITY, "pelastus_hub_units"} <= exported
    for alert, expr in exprs.items():
        used = set(re.findall(r"\bpelastus_hub_[a-z0-9_]+", expr))
        assert used, alert
        assert used <= exported, (alert, used - exported)
