"""The worker against the real broker: outcomes, dead letters, feedback, snapshots, restarts.

These tests start a broker of their own: the hub's topics (state, snapshots)
must hold only what this scenario produced. Event times are fixed, in the past, and
the worker flags no department stale for years: nothing here depends on the clock
or on how long the suite takes.
"""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from jsonschema import Draft202012Validator, FormatChecker

from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.unit_status import UNIT_STATUSES
from pelastus_hub.tools import worker_metrics
from tests.integration.hub_process import WorkerProcess

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
PROMTOOL = SCHEMAS.parent / "deploy" / "prometheus" / "promtool.py"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FUTURE = datetime(2999, 1, 1, tzinfo=UTC)
SOURCE = "/pelastuslaitos/test/resource-system"
REGISTRY_CODES = Registry.load(SCHEMAS).codes


def data(
    department: str, unit_id: str, unit_type: str, status: str, crew: int, seconds: int
) -> dict:
    return {
        "department": department,
        "unit_id": unit_id,
        "unit_type": unit_type,
        "status": status,
        "station_id": "S1",
        "crew": crew,
        "capabilities": [],
        "observed_at": (T0 + timedelta(seconds=seconds)).isoformat(),
    }


def statuses(**counts: int) -> dict[str, int]:
    return {status: counts.get(status, 0) for status in UNIT_STATUSES}


def cloud_event(event_id: str, payload: dict, **envelope: object) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": "fi.pelastus.unit-status.v1",
        "time": T0.isoformat(),
        "data": payload,
        **envelope,
    }


def encode(document: dict) -> bytes:
    return json.dumps(document).encode()


PI = "dept.pirkanmaa.unit-status"
LA = "dept.lappi.unit-status"
RPI1_AVAILABLE = cloud_event(
    "e1", data("pirkanmaa", "RPI1", "rescue_unit", "available_at_station", 4, 0)
)
RPI1_DISPATCHED = cloud_event("e2", data("pirkanmaa", "RPI1", "rescue_unit", "dispatched", 4, 60))
RPI1_EN_ROUTE_LATE = cloud_event("e3", data("pirkanmaa", "RPI1", "rescue_unit", "en_route", 4, 30))
RPI2_ON_SCENE = cloud_event("e4", data("pirkanmaa", "RPI2", "tank_unit", "on_scene", 2, 10))
RPI3_OUT = cloud_event("e5", data("pirkanmaa", "RPI3", "aerial_unit", "out_of_service", 0, 5))
# An exercise: accepted, but never part of the real capability.
RPI4_DRILL = cloud_event(
    "x1", data("pirkanmaa", "RPI4", "rescue_unit", "on_scene", 4, 50), mode="exercise"
)
RLA1 = data("lappi", "RLA1", "ems_unit", "available", 2, 20)
RLA1_HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"l1"),
    ("ce_source", SOURCE.encode()),
    ("ce_type", b"fi.pelastus.unit-status.v1"),
    ("ce_time", T0.isoformat().encode()),
    ("content-type", b"application/json"),
]

VALID = [
    (PI, b"RPI1", encode(RPI1_AVAILABLE), []),
    (PI, b"RPI1", encode(RPI1_DISPATCHED), []),
    (PI, b"RPI2", encode(RPI2_ON_SCENE), []),
    (PI, b"RPI3", encode(RPI3_OUT), []),
    (PI, b"RPI4", encode(RPI4_DRILL), []),
    (LA, b"RLA1", encode(RLA1), RLA1_HEADERS),
]
DUPLICATE = [(PI, b"RPI1", encode(RPI1_DISPATCHED), [])]
STALE = [(PI, b"RPI1", encode(RPI1_EN_ROUTE_LATE), [])]
good = data("pirkanmaa", "RPI9", "rescue_unit", "available", 3, 1)
BAD = [
    (Reason.VALUE_NULL, (PI, b"RPI9", None, [])),
    (Reason.VALUE_TOO_LARGE, (PI, b"RPI9", b" " * (1024 * 1024 + 1), [])),
    (Reason.VALUE_NOT_UTF8, (PI, b"RPI9", b"\xff\xfe{}", [])),
    # Binary mode, with headers the dead letter must keep.
    (Reason.VALUE_NOT_JSON, (PI, b"RPI9", b"{binary but broken", RLA1_HEADERS)),
    (Reason.VALUE_NOT_OBJECT, (PI, b"RPI9", b'"just a string"', [])),
    (Reason.VALUE_NOT_OBJECT, (PI, b"RPI9", b"[1, 2, 3]", [])),
    (
        Reason.ENVELOPE_FIELD_MISSING,
        (
            PI,
            b"RPI9",
            encode({k: v for k, v in cloud_event("b1", good).items() if k != "source"}),
            [],
        ),
    ),
    (
        Reason.ENVELOPE_FIELD_INVALID,
        (PI, b"RPI9", encode(cloud_event("b2", good, specversion="0.3")), []),
    ),
    (
        Reason.TYPE_UNKNOWN_FAMILY,
        (PI, b"RPI9", encode(cloud_event("b3", good, type="fi.pelastus.weather.v1")), []),
    ),
    (
        Reason.TYPE_UNKNOWN_VERSION,
        (PI, b"RPI9", encode(cloud_event("b4", good, type="fi.pelastus.unit-status.v3")), []),
    ),
    (
        Reason.SCHEMA_INVALID,
        (PI, b"RPI9", encode(cloud_event("b5", {**good, "crew": "three"})), []),
    ),
    (
        Reason.DEPARTMENT_UNKNOWN,
        (PI, b"RPI9", encode(cloud_event("b6", {**good, "department": "narnia"})), []),
    ),
    (
        Reason.DEPARTMENT_MISMATCH,
        (PI, b"RPI9", encode(cloud_event("b7", {**good, "department": "lappi"})), []),
    ),
    (Reason.KEY_MISMATCH, (PI, b"RPI8", encode(cloud_event("b8", good)), [])),
    (
        Reason.EVENT_TIME_IN_FUTURE,
        (
            PI,
            b"RPI9",
            encode(
                cloud_event(
                    "b9",
                    {**good, "observed_at": FUTURE.isoformat()},
                )
            ),
            [],
        ),
    ),
]


@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    """One worker for the module; departments heard from stay fresh whenever the test runs."""
    years = str(10 * 365 * 24 * 3600)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = WorkerProcess(broker, log, stale_after_seconds=years)
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


async def produce(broker: str, records: list) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for topic, key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def read_all(broker: str, topic: str, partitions: int = 1) -> list:
    """Every committed record of the topic, to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        ends = await consumer.end_offsets(assigned)
        records = []
        deadline = time.monotonic() + 30
        # By position, not by count: transaction markers take offsets too.
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            assert time.monotonic() < deadline, f"read {len(records)} of {ends} from {topic}"
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def without_clock(snapshot: dict) -> dict:
    """The snapshot minus what moves with the wall clock (ages, and so staleness)."""

    def still(view: dict) -> dict:
        kept = {k: v for k, v in view.items() if k not in ("freshness_seconds", "stale")}
        kept["freshness"] = {
            family: age["last_event_time"] for family, age in view["freshness"].items()
        }
        return kept

    return {
        "national": still(snapshot["national"]),
        "departments": {code: still(view) for code, view in snapshot["departments"].items()},
    }


NO_INCIDENTS = {
    "open": 0,
    "by_urgency": {"A": 0, "B": 0, "C": 0, "D": 0, "unknown": 0},
    "by_type": {},
    "open_incidents": [],
}
NO_READINESS = {
    "stations": 0,
    "firefighters": 0,
    "officers": 0,
    "ems": 0,
    "volunteers_available": 0,
}


async def test_known_traffic_gives_exact_outcomes_dead_letters_feedback_and_snapshot(
    broker, worker
):
    records = VALID + DUPLICATE + STALE + [record for _, record in BAD]
    await produce(broker, records)
    totals = worker.wait_consumed(len(records))

    assert totals == {
        ("pirkanmaa", "accepted"): 5,
        ("lappi", "accepted"): 1,
        ("pirkanmaa", "duplicate"): 1,
        ("pirkanmaa", "stale"): 1,
        ("pirkanmaa", "dead_lettered"): len(BAD),
    }
    assert sum(totals.values()) == len(records)

    inputs = {(r.partition, r.offset): r for r in await read_all(broker, PI, partitions=3)}
    expected = {(key, value): reason for reason, (_, key, value, _) in BAD}
    dead = await read_all(broker, "hub.dead-letter", partitions=3)
    assert len(dead) == len(BAD)
    reasons = []
    for letter in dead:
        headers = dict(letter.headers)
        assert headers["hub.error.topic"] == PI.encode()
        assert headers["hub.error.department"] == b"pirkanmaa"
        original = inputs[int(headers["hub.error.partition"]), int(headers["hub.error.offset"])]
        if original.value is not None and len(original.value) > 1024 * 1024:
            # Beyond the message limit: left out, and said so.
            assert letter.key == original.key and letter.value is None
            assert headers["hub.error.value_omitted"] == f"{len(original.value)} bytes".encode()
        else:
            assert (letter.key, letter.value) == (original.key, original.value)
        # The original headers come first, unchanged; the hub's follow.
        assert list(letter.headers[: len(original.headers)]) == list(original.headers)
        assert headers["hub.error.reason"].decode() == expected[original.key, original.value]
        assert headers["hub.error.message"]
        reasons.append(headers["hub.error.reason"].decode())
    assert sorted(reasons) == sorted(reason.value for reason, _ in BAD)
    schema_error = next(d for d in dead if dict(d.headers)["hub.error.reason"] == b"schema_invalid")
    assert dict(schema_error.headers)["hub.error.message"].startswith(b"/data/crew: ")

    feedback = [json.loads(r.value) for r in await read_all(broker, "feedback.pirkanmaa")]
    assert sorted(f["reason"] for f in feedback) == sorted(reason.value for reason, _ in BAD)
    mismatch = next(f for f in feedback if f["reason"] == "department_mismatch")
    assert mismatch["event_id"] == "b7" and mismatch["topic"] == PI
    assert mismatch["pointer"] == "/data/department"
    assert await read_all(broker, "feedback.lappi") == []

    snapshot = worker.wait_snapshot_after(0)
    snapshot = worker.wait_snapshot_after(snapshot["sequence"])
    schema = json.loads((SCHEMAS / "capability" / "v2.json").read_text())
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(snapshot)
    assert len(snapshot["departments"]) == 21
    assert without_clock(snapshot)["departments"]["pirkanmaa"] == {
        "units": 3,
        "units_by_type": {
            "aerial_unit": statuses(out_of_service=1),
            "rescue_unit": statuses(dispatched=1),
            "tank_unit": statuses(on_scene=1),
        },
        "units_by_status": statuses(out_of_service=1, dispatched=1, on_scene=1),
        "available": 0,
        "committed": 2,
        "out_of_service": 1,
        "crew_available": 0,
        "strain": 1.0,
        "last_event_time": (T0 + timedelta(seconds=60)).isoformat(),
        "incidents": NO_INCIDENTS,
        "readiness": NO_READINESS,
        "freshness": {
            "unit-status": (T0 + timedelta(seconds=60)).isoformat(),
            "incident": None,
            "readiness": None,
        },
    }
    assert without_clock(snapshot)["departments"]["lappi"] == {
        "units": 1,
        "units_by_type": {"ems_unit": statuses(available=1)},
        "units_by_status": statuses(available=1),
        "available": 1,
        "committed": 0,
        "out_of_service": 0,
        "crew_available": 2,
        "strain": 0.0,
        "last_event_time": (T0 + timedelta(seconds=20)).isoformat(),
        "incidents": NO_INCIDENTS,
        "readiness": NO_READINESS,
        "freshness": {
            "unit-status": (T0 + timedelta(seconds=20)).isoformat(),
            "incident": None,
            "readiness": None,
        },
    }
    national = snapshot["national"]
    assert (national["units"], national["available"], national["committed"]) == (4, 1, 2)
    assert snapshot["departments"]["kainuu"]["units"] == 0
    assert national["stale_departments"] == sorted(REGISTRY_CODES - {"pirkanmaa", "lappi"})
    assert list(snapshot["exercise"]["departments"]) == ["pirkanmaa"]  # the drill, apart
    assert snapshot["exercise"]["national"]["committed"] == 1

    published = [json.loads(r.value) for r in await read_all(broker, "national.capability")]
    sequences = [s["sequence"] for s in published]
    assert sequences == list(range(1, len(sequences) + 1))

    status, one = worker.get_json("/api/v1/capability/lappi")
    assert status == 200 and one["department"] == "lappi" and one["units"] == 1
    status, error = worker.get_json("/api/v1/capability/narnia")
    assert status == 404 and error["error"] == "unknown_department"
    status, _ = worker.get_json("/healthz")
    assert status == 200
    metrics = worker_metrics.read_samples(worker.url)
    dead_letters = worker_metrics.totals(
        metrics, "pelastus_hub_dead_letters_total", ("department", "reason")
    )
    assert dead_letters[("pirkanmaa", "key_mismatch")] == 1
    units = worker_metrics.totals(
        metrics, "pelastus_hub_units", ("department", "status_class", "unit_type")
    )
    assert units[("pirkanmaa", "committed", "rescue_unit")] == 1


def test_the_worker_s_metrics_pass_promtool_and_carry_what_the_alerts_need(worker):
    """Scraped as Prometheus scrapes it, after the known traffic above."""
    status, _, body = worker.request("/metrics")
    assert status == 200
    checked = subprocess.run(
        [sys.executable, str(PROMTOOL), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    samples = worker_metrics.read_samples(worker.url)
    accepted = worker_metrics.totals(
        samples, "pelastus_hub_accepted_event_timestamp_seconds", ("department",)
    )
    assert accepted[("lappi",)] == (T0 + timedelta(seconds=20)).timestamp()
    # The snapshot's flag: pirkanmaa and lappi reported; kainuu never did.
    stale = worker_metrics.totals(samples, "pelastus_hub_department_stale", ("department",))
    assert (stale[("pirkanmaa",)], stale[("lappi",)], stale[("kainuu",)]) == (0, 0, 1)
    # The lag is measured on a timer: every input partition, all processed.
    deadline = time.monotonic() + 30
    while True:
        lag = worker_metrics.totals(
            worker_metrics.read_samples(worker.url),
            "pelastus_hub_consumer_lag_records",
            ("department", "topic", "partition"),
        )
        if len(lag) == 3 * len(REGISTRY_CODES) * 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(lag) == 3 * len(REGISTRY_CODES) * 3  # families x departments x partitions
    assert set(lag.values()) == {0}
    assert lag[("lappi", "dept.lappi.unit-status", "0")] == 0


async def consumes_only_new_records(broker: str, worker: WorkerProcess) -> None:
    """After a restart: one new record is consumed, and nothing from before."""
    marker = cloud_event(
        "m-" + str(time.time_ns()), data("pirkanmaa", "RPI7", "ems_unit", "available", 1, 200)
    )
    await produce(broker, [(PI, b"RPI7", encode(marker), [])])
    assert worker.wait_consumed(1) == {("pirkanmaa", "accepted"): 1}
    time.sleep(1)  # a replay, had there been one, would have shown by now
    assert worker.records_total() == {("pirkanmaa", "accepted"): 1}


async def test_restart_restores_state_without_replaying_inputs(broker, worker):
    before = worker.wait_snapshot_after(0)
    assert worker.stop() == 0
    worker.start()
    after = worker.wait_snapshot_after(before["sequence"])
    assert without_clock(after) == without_clock(before)
    await consumes_only_new_records(broker, worker)


async def test_killed_worker_comes_back_with_everything_it_acknowledged(broker, worker):
    newer = cloud_event("e6", data("pirkanmaa", "RPI2", "tank_unit", "available", 2, 120))
    await produce(broker, [(PI, b"RPI2", encode(newer), [])])
    worker.wait_consumed(2)  # the marker of the test before, and this one
    _, last = worker.get_json("/api/v1/capability")
    worker.kill()
    worker.start()
    # The dead worker's place in the runtime group, and so the lead, frees after its session.
    snapshot = worker.wait_snapshot_after(last["sequence"], timeout=60)
    assert snapshot["departments"]["pirkanmaa"]["units_by_type"]["tank_unit"]["available"] == 1
    assert snapshot["departments"]["pirkanmaa"]["available"] == 2  # RPI2 and the marker's RPI7
    await consumes_only_new_records(broker, worker)


async def test_snapshot_on_request(broker, worker, tmp_path):
    assert worker.stop() == 0
    # A cadence too slow to matter: only the request can publish.
    process = WorkerProcess(broker, tmp_path / "worker.log", snapshot_interval_seconds="3600")
    process.start()
    try:
        published = await read_all(broker, "national.capability")
        last = json.loads(published[-1].value)["sequence"]
        status, body = process.get_json("/api/v1/capability")
        assert status == 200 and body["sequence"] == last  # the last one, from the topic
        await produce(broker, [("hub.snapshot-requests", None, b"now", [])])
        snapshot = process.wait_snapshot_after(last)
        assert snapshot["sequence"] == last + 1
        assert snapshot["departments"]["lappi"]["units"] == 1
    finally:
        assert process.stop() == 0
