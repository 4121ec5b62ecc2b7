"""The worker's Prometheus metrics: series that start at 0, security events, the process's
and the build's, the lead, the input partitions' lag, the newest accepted event, the
snapshot's gauges."""

import asyncio
import sys
from datetime import timedelta
from importlib import metadata
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pelastus_hub.contract.reasons import SECURITY_REASONS, Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.readiness import StationReadiness
from pelastus_hub.picture.snapshot import snapshot
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.runtime.intake import Intake
from pelastus_hub.runtime.metrics import HubMetrics, version
from pelastus_hub.runtime.worker import HubWorker
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka
from tests.unit.helpers import NOW, SCHEMAS, event, new_store, record

REGISTRY = Registry.load(SCHEMAS)
ROUTES = input_routes(REGISTRY, FAMILIES.values())
SECURITY = "pelastus_hub_security_events_total"
LAG = "pelastus_hub_consumer_lag_records"


def batch_into(metrics: HubMetrics, *records) -> None:
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    stores = {name: new_store(name) for name in FAMILIES}
    result = process_batch(records, ROUTES, validator, stores, NOW)
    metrics.record_batch(result, 0.01)


def samples(metrics: HubMetrics, name: str) -> dict[tuple[str, str], float]:
    """The counter's samples by (department, reason), as /metrics shows them."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.labels["department"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def nonzero(found: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    return {key: value for key, value in found.items() if value}


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
    """Stands in for the batch consumer: the partitions' last stable offsets, which the
    broker tells, and the positions it has read to."""

    def __init__(self, ends: dict[TopicPartition, int], positions: dict[TopicPartition, int]):
        self.ends, self.positions = ends, positions

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp] for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


def lags(metrics: HubMetrics) -> dict[tuple[str, str, str], float]:
    return {
        (dict(labels)["topic"], dict(labels)["partition"], dict(labels)["department"]): value
        for labels, value in exposed(metrics).get(LAG, {}).items()
    }


async def test_the_lag_is_measured_from_the_broker_s_ends_and_grows_while_nothing_is_done():
    metrics = HubMetrics()
    a, b = TopicPartition("dept.lappi.unit-status", 0), TopicPartition("dept.kainuu.incident", 3)
    departments = {a.topic: "lappi", b.topic: "kainuu"}
    intake = Intake(FakeKafka(), HubSettings(), asyncio.Lock(), metrics, departments)
    consumer = Consumer({a: 120, b: 10}, {a: 100, b: 10})
    intake.consumer = consumer  # type: ignore[assignment]

    def busy() -> bool:  # a batch in flight throughout
        return False

    await intake.measure_lag(busy)  # not resumed yet: nothing to measure
    assert lags(metrics) == {}
    intake.processed({a: 100, b: 10})  # resumed there
    await intake.measure_lag(busy)
    A, B = ("dept.lappi.unit-status", "0", "lappi"), ("dept.kainuu.incident", "3", "kainuu")
    assert lags(metrics) == {A: 20.0, B: 0.0}
    # No batch completes; records go on arriving: the lag grows.
    consumer.ends[a] = 150
    await intake.measure_lag(busy)
    assert lags(metrics)[A] == 50.0
    intake.processed({a: 140})  # a batch committed
    await intake.measure_lag(busy)
    assert lags(metrics)[A] == 10.0


async def test_an_idle_worker_counts_what_its_consumer_read_past_as_processed() -> None:
    """A transaction's marker takes an offset that no batch of the hub's ever holds."""
    metrics = HubMetrics()
    a = TopicPartition("dept.lappi.unit-status", 0)
    intake = Intake(FakeKafka(), HubSettings(), asyncio.Lock(), metrics, {a.topic: "lappi"})
    intake.consumer = Consumer({a: 101}, {a: 101})  # type: ignore[assignment]
    intake.processed({a: 100})
    await intake.measure_lag(lambda: True)
    assert lags(metrics) == {("dept.lappi.unit-status", "0", "lappi"): 0.0}


async def test_a_revoked_partition_s_lag_is_removed_and_no_longer_measured() -> None:
    metrics = HubMetrics()
    a, b = TopicPartition("dept.lappi.unit-status", 0), TopicPartition("dept.lappi.incident", 3)
    departments = {a.topic: "lappi", b.topic: "lappi"}
    intake = Intake(FakeKafka(), HubSettings(), asyncio.Lock(), metrics, departments)
    intake.consumer = Consumer({a: 5, b: 9}, {})  # type: ignore[assignment]
    intake.assigned.update((a, b))
    intake.processed({a: 0, b: 0})
    await intake.measure_lag(lambda: False)
    await intake.on_partitions_revoked({a})
    assert lags(metrics) == {("dept.lappi.incident", "3", "lappi"): 9.0}
    assert intake.assigned == {b}
    await intake.measure_lag(lambda: False)
    assert set(lags(metrics)) == {("dept.lappi.incident", "3", "lappi")}


def test_counters_by_department_start_at_zero_so_an_alert_sees_the_first_event() -> None:
    metrics = HubMetrics(REGISTRY.codes, FAMILIES.values())
    found = exposed(metrics)
    records = found["pelastus_hub_records_total"]
    assert len(records) == len(REGISTRY.codes) * len(FAMILIES) * 4  # four outcomes
    assert set(records.values()) == {0.0}
    assert len(found["pelastus_hub_dead_letters_total"]) == len(REGISTRY.codes) * len(Reason)
    warnings = {
        tuple(dict(labels)[k] for k in ("family", "warning"))
        for labels in found["pelastus_hub_warnings_total"]
    }
    # Only the incident family warns: no series for a warning no family gives.
    assert warnings == {("incident", "incident_not_opened"), ("incident", "late_for_kpi_window")}
    late = (
        ("department", "lappi"),
        ("family", "incident"),
        ("warning", "late_for_kpi_window"),
    )
    assert found["pelastus_hub_warnings_total"][late] == 0.0


def test_the_newest_accepted_event_time_never_goes_back() -> None:
    metrics = HubMetrics()
    newer = event(observed_at=(NOW - timedelta(seconds=10)).isoformat())
    older = event(observed_at=(NOW - timedelta(seconds=50)).isoformat())
    batch_into(metrics, record(newer))
    accepted = "pelastus_hub_accepted_event_timestamp_seconds"
    expected = {(("department", "pirkanmaa"),): (NOW - timedelta(seconds=10)).timestamp()}
    assert exposed(metrics)[accepted] == expected
    batch_into(metrics, record(older, key=b"RPI311"))  # another unit, an older event
    assert exposed(metrics)[accepted] == expected


def test_the_snapshot_s_gauges_say_each_department_s_newest_event_in_any_family_and_stale():
    metrics = HubMetrics()
    heard = NOW - timedelta(seconds=100)
    station = StationReadiness("actual", "lappi", "LA-1", 3, 1, 2, 6, heard, "r", (("r", "/s"),))
    built = snapshot(
        {"unit-status": [], "incident": [], "readiness": [station]},
        FAMILIES.values(),
        ["lappi", "kainuu"],
        1,
        NOW,
        60,
    )
    metrics.export_snapshot(built)
    found = exposed(metrics)
    # Readiness only, no unit status: lappi is heard from, its event 100 s old.
    assert found["pelastus_hub_last_event_timestamp_seconds"] == {
        (("department", "lappi"),): heard.timestamp()
    }
    # Over the 60 s threshold: stale, as is kainuu, never heard from.
    assert found["pelastus_hub_department_stale"] == {
        (("department", "kainuu"),): 1.0,
        (("department", "lappi"),): 1.0,
    }
    fresh = snapshot(
        {"unit-status": [], "incident": [], "readiness": [station]},
        FAMILIES.values(),
        ["lappi", "kainuu"],
        2,
        NOW,
        900,
    )
    metrics.export_snapshot(fresh)
    assert exposed(metrics)["pelastus_hub_department_stale"][(("department", "lappi"),)] == 0.0
    metrics.forget_snapshot()  # not leading any more
    found = exposed(metrics)
    for name in ("department_stale", "last_event_timestamp_seconds"):
        assert f"pelastus_hub_{name}" not in found


def test_the_units_gauge_follows_the_snapshots_and_drops_what_they_no_longer_hold() -> None:
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    stores = {name: new_store(name) for name in FAMILIES}
    units = [event(unit_id=unit_id) for unit_id in ("RPI487", "RPI311")]
    units[1]["id"] = "another-event"
    keyed = [record(unit, key=unit["data"]["unit_id"].encode()) for unit in units]
    process_batch(keyed, ROUTES, validator, stores, NOW)
    states = list(stores["unit-status"].states.values())
    unit_type = states[0].unit_type
    metrics = HubMetrics()

    def units_exposed(held: list, sequence: int) -> dict:
        built = snapshot(
            {"unit-status": held, "incident": [], "readiness": []},
            FAMILIES.values(),
            ["pirkanmaa"],
            sequence,
            NOW,
            900,
        )
        metrics.export_snapshot(built)
        return exposed(metrics).get("pelastus_hub_units", {})

    def available(count: float) -> dict:
        """The type's series, every status class of it, with `count` units available."""
        return {
            (("department", "pirkanmaa"), ("status_class", status), ("unit_type", unit_type)): (
                count if status == "available" else 0.0
            )
            for status in ("available", "committed", "out_of_service")
        }

    assert units_exposed(states, 1) == available(2.0)
    assert units_exposed(states[:1], 2) == available(1.0)
    assert units_exposed([], 3) == {}  # gone, not left at their last values
    assert units_exposed(states[1:], 4) == available(1.0)


def test_every_department_s_security_series_starts_at_zero() -> None:
    assert samples(HubMetrics(REGISTRY.codes), SECURITY) == {
        (code, reason): 0.0 for code in REGISTRY.codes for reason in SECURITY_REASONS
    }


def test_a_record_claiming_another_department_is_a_security_event_of_its_sender() -> None:
    metrics = HubMetrics(REGISTRY.codes)
    # pirkanmaa's topic, lappi's data: the sender is pirkanmaa.
    batch_into(metrics, record(event(department="lappi")), record(event(department="narnia")))
    counted = nonzero(samples(metrics, SECURITY))
    assert counted == {
        ("pirkanmaa", Reason.DEPARTMENT_MISMATCH): 1.0,
        ("pirkanmaa", Reason.DEPARTMENT_UNKNOWN): 1.0,
    }
    assert (
        nonzero(samples(metrics, "pelastus_hub_dead_letters_total")) == counted
    )  # dead letters too


def test_other_dead_letters_are_no_security_event() -> None:
    metrics = HubMetrics(REGISTRY.codes)
    batch_into(
        metrics,
        record(event(crew=-1)),  # schema_invalid
        record(event(), key=b"RPI999"),  # key_mismatch: its own department, a wrong key
    )
    assert nonzero(samples(metrics, "pelastus_hub_dead_letters_total")) == {
        ("pirkanmaa", Reason.SCHEMA_INVALID): 1.0,
        ("pirkanmaa", Reason.KEY_MISMATCH): 1.0,
    }
    assert not any(samples(metrics, SECURITY).values())
