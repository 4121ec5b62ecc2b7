"""The worker's Prometheus metrics: security events, the process's and the build's, the
lead, the input partitions' lag, and the alert rules that use them."""

import asyncio
import re
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pelastus_hub.contract.reasons import SECURITY_REASONS, Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.runtime.metrics import HubMetrics, version
from pelastus_hub.runtime.worker import HubWorker, Intake
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka
from tests.unit.helpers import NOW, SCHEMAS, event, new_store, record

REGISTRY = Registry.load(SCHEMAS)
ROUTES = input_routes(REGISTRY, FAMILIES.values())
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
SECURITY = "pelastus_hub_security_events_total"
# The series a metric family of each type is exposed as.
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}
LAG = "pelastus_hub_consumer_lag_records"


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


def exposed(metrics: HubMetrics) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample /metrics shows, by name and then by its sorted labels."""
    text = generate_latest(metrics.registry).decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def test_the_build_s_version_is_a_label_of_a_series_at_one() -> None:
    assert exposed(HubMetrics())["pelastus_hub_build_info"] == {(("version", version()),): 1.0}
    assert version() not in ("", "0+unknown")  # the venv has the project installed


def test_the_version_of_a_source_tree_never_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert version() == "0+unknown"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="read from /proc")
def test_the_process_s_and_python_s_own_metrics_are_exposed() -> None:
    found = exposed(HubMetrics())
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
        "python_gc_collections_total",
        "python_info",
    ):
        assert name in found, name
    assert all(value > 0 for value in found["process_resident_memory_bytes"].values())


def test_no_counter_or_histogram_has_a_created_series() -> None:
    metrics = HubMetrics(REGISTRY.codes)
    batch_into(metrics, record(event()))
    metrics.snapshots.inc()
    found = exposed(metrics)
    assert "pelastus_hub_records_total" in found
    assert "pelastus_hub_batch_processing_seconds_count" in found
    assert [name for name in found if name.endswith("_created")] == []


def test_the_leader_gauge_follows_the_lead() -> None:
    metrics = HubMetrics()
    assert exposed(metrics)["pelastus_hub_leader"] == {(): 0.0}  # before any is known
    lead = SimpleNamespace(leading=False)
    metrics.follow_leadership(lambda: lead.leading)
    assert exposed(metrics)["pelastus_hub_leader"] == {(): 0.0}
    lead.leading = True
    assert exposed(metrics)["pelastus_hub_leader"] == {(): 1.0}
    lead.leading = False
    assert exposed(metrics)["pelastus_hub_leader"] == {(): 0.0}


async def test_the_worker_s_leader_gauge_reads_its_snapshot_cycle_s_lead() -> None:
    hub = HubWorker(HubSettings(), REGISTRY, clients=FakeKafka())
    assert exposed(hub.metrics)["pelastus_hub_leader"] == {(): 0.0}
    hub.snapshots.leadership = SimpleNamespace(leading=True)  # type: ignore[assignment]
    assert exposed(hub.metrics)["pelastus_hub_leader"] == {(): 1.0}


class Consumer:
    """Stands in for the batch consumer: its assignment and the high watermarks it knows."""

    def __init__(self, highwaters: dict[TopicPartition, int | None]) -> None:
        self.highwaters = highwaters

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters)

    def highwater(self, tp: TopicPartition) -> int | None:
        assert tp in self.highwaters, "Partition is not assigned"
        return self.highwaters[tp]


def lags(metrics: HubMetrics) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["topic"], dict(labels)["partition"]): value
        for labels, value in exposed(metrics).get(LAG, {}).items()
    }


async def test_a_batch_s_partitions_lag_is_set_and_a_revoked_one_s_removed() -> None:
    metrics = HubMetrics()
    intake = Intake(FakeKafka(), HubSettings(), asyncio.Lock(), metrics)
    a, b = TopicPartition("dept.lappi.unit-status", 0), TopicPartition("dept.lappi.incident", 3)
    unknown, gone = (
        TopicPartition("dept.lappi.readiness", 1),
        TopicPartition("dept.kainuu.unit-status", 0),
    )
    intake.consumer = Consumer({a: 120, b: 10, unknown: None})  # type: ignore[assignment]
    intake.assigned.update((a, b, unknown))
    intake.record_lag({})  # before any batch: no series
    assert lags(metrics) == {}
    # Next offsets to read after a batch; `gone` was revoked since (not asked, no series).
    intake.record_lag({a: 100, b: 10, unknown: 5, gone: 7})
    assert lags(metrics) == {
        ("dept.lappi.unit-status", "0"): 20.0,
        ("dept.lappi.incident", "3"): 0.0,
    }
    intake.consumer.highwaters[a] = 130  # type: ignore[union-attr]
    intake.record_lag({a: 125})
    assert lags(metrics)["dept.lappi.unit-status", "0"] == 5.0
    await intake.on_partitions_revoked({a, gone})
    assert lags(metrics) == {("dept.lappi.incident", "3"): 0.0}
    assert intake.assigned == {b, unknown}


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
