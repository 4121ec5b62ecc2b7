"""Faults around the hub on the real broker: records that cannot be carried whole, and a broker
that goes away for longer than any client timeout and comes back on its data and port.

PELASTUS_HUB_OUTAGE_SECONDS sets how long the broker stays down (default 130 s, longer
than aiokafka's 40 s request timeout and the runtime group's 10 s session).
"""

import asyncio
import itertools
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pelastus_hub.contract.reasons import Reason
from pelastus_hub.tools.simulator import generate, ground_truth
from tests.integration.hub_process import WorkerProcess
from tests.integration.test_several_workers import REGISTRY, as_published, expected_picture
from tests.integration.test_worker import cloud_event, data, encode, produce, read_all

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = float(os.environ.get("PELASTUS_HUB_OUTAGE_SECONDS", "130"))
SNAPSHOT_INTERVAL = 2.0
PI = "dept.pirkanmaa.unit-status"
MiB = 1024 * 1024
OUTCOMES = ("accepted", "duplicate", "stale", "dead_lettered")


@pytest.fixture(scope="module")
def kafka(module_kafka):
    return module_kafka


@pytest.fixture(scope="module")
def worker(kafka, tmp_path_factory):
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = WorkerProcess(
        kafka.bootstrap_servers,
        log,
        snapshot_interval_seconds=str(SNAPSHOT_INTERVAL),
        stale_after_seconds=str(10 * 365 * 24 * 3600),
    )
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


def accounting(worker: WorkerProcess) -> dict[tuple[str, int], dict]:
    _, body = worker.get_json("/api/v1/accounting")
    return {(p["topic"], p["partition"]): p for p in body["partitions"]}


def total(worker: WorkerProcess, field: str) -> int:
    return sum(p[field] for p in accounting(worker).values())


def origin(letter) -> tuple[bytes, ...]:
    """The input record a dead letter stands for: topic, partition, offset."""
    headers = dict(letter.headers)
    return tuple(headers[f"hub.error.{name}"] for name in ("topic", "partition", "offset"))


def wait_for(condition, what: str, timeout: float = 120.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


async def test_records_too_large_to_carry_whole_are_dead_lettered_and_the_hub_goes_on(
    kafka, worker
):
    good = data("pirkanmaa", "RPI1", "rescue_unit", "available", 4, 0)
    big_headers = [(f"x-note-{i}", b"n" * 1000) for i in range(100)]  # 100 kB > 64 KiB
    records = [
        # 3 MiB: over the hub's 1 MiB limit, within the broker's 4 MiB.
        (PI, b"RPI9", b"{" + b" " * (3 * MiB) + b"}", []),
        (PI, b"RPI9", encode(cloud_event("p2", good)), big_headers),
        (PI, b"K" * (2 * MiB), encode(cloud_event("p3", good)), []),
        (PI, None, b"x" * (2 * MiB), big_headers),
        # Valid, after them all; an exercise, so that it stays out of the next test's picture.
        (PI, b"RPI1", encode(cloud_event("p5", good, mode="exercise")), []),
    ]
    await produce(kafka.bootstrap_servers, records)
    wait_for(lambda: total(worker, "consumed") >= len(records), "all consumed")
    assert worker.process.poll() is None and worker.get("/healthz")[0] == 200
    counts = accounting(worker)
    assert total(worker, "consumed") == len(records)
    for partition in counts.values():
        assert partition["consumed"] == sum(partition[o] for o in OUTCOMES)
    assert total(worker, "accepted") == 1 and total(worker, "dead_lettered") == 4

    letters = await read_all(kafka.bootstrap_servers, "hub.dead-letter", partitions=3)
    inputs = {(r.partition, r.offset): r for r in await read_all(kafka.bootstrap_servers, PI, 3)}
    assert len(letters) == 4
    seen = set()
    for letter in letters:
        headers = dict(letter.headers)
        origin = int(headers["hub.error.partition"]), int(headers["hub.error.offset"])
        seen.add(origin)
        original = inputs[origin]
        size = len(letter.key or b"") + len(letter.value or b"")
        size += sum(len(k) + len(v or b"") for k, v in letter.headers)
        assert size <= MiB  # the hub's records keep within its message limit
        if original.value is not None and len(original.value) > MiB // 2:
            assert headers["hub.error.value_omitted"] == f"{len(original.value)} bytes".encode()
        if original.key is not None and len(original.key) > MiB // 2:
            assert headers["hub.error.key_omitted"] == f"{len(original.key)} bytes".encode()
    assert len(seen) == 4
    reasons = sorted(dict(d.headers)["hub.error.reason"].decode() for d in letters)
    too_large, headers, key = Reason.VALUE_TOO_LARGE, Reason.HEADERS_TOO_LARGE, Reason.KEY_MISMATCH
    assert reasons == sorted([too_large, headers, key, too_large])


async def test_the_hub_rides_out_a_broker_outage_longer_than_every_client_timeout(kafka, worker):
    # Recent: the simulation's events in the future must lie ahead of the hub's clock.
    start = datetime.now(UTC) - timedelta(hours=1)
    shares = dict(invalid_share=0.05, duplicate_share=0.03, out_of_order_share=0.03)
    messages = list(itertools.islice(generate(REGISTRY, 5, start, 20.0, **shares), 1200))
    first, second = messages[:600], messages[600:]
    bootstrap = kafka.bootstrap_servers
    consumed_before = total(worker, "consumed")
    letters_before = {origin(d) for d in await read_all(bootstrap, "hub.dead-letter", 3)}
    await produce(bootstrap, [(m.topic, m.key, m.value, list(m.headers)) for m in first])
    wait_for(lambda: total(worker, "consumed") >= consumed_before + len(first), "first consumed")
    snapshot = worker.wait_snapshot_after(0)

    kafka.stop_broker(hard=True)
    went = time.monotonic()
    _, body = wait_for(
        lambda: (reply := worker.get_json("/readyz"))[0] == 503 and reply, "readyz 503", 30
    )
    assert body["broker_reachable"] is False and "broker unreachable" in body["broker_problem"]
    while time.monotonic() - went < OUTAGE_SECONDS:
        # Weather, not death: alive and healthy all through, just not ready.
        assert worker.process.poll() is None, worker.log_path.read_text()[-3000:]
        assert worker.get("/healthz")[0] == 200
        await asyncio.sleep(1.0)

    assert await asyncio.to_thread(kafka.start) == bootstrap  # the same data and port
    back = time.monotonic()
    wait_for(lambda: worker.get_json("/readyz")[0] == 200, "ready again", timeout=120)
    ready_after = time.monotonic() - back
    resumed = worker.wait_snapshot_after(snapshot["sequence"], timeout=120)
    snapshot_after = time.monotonic() - back
    print(
        f"\nbroker down {back - went:.0f} s; worker ready {ready_after:.1f} s and "
        f"first snapshot {snapshot_after:.1f} s after the broker was back",
        file=sys.stderr,
    )
    assert resumed["sequence"] > snapshot["sequence"]

    await produce(bootstrap, [(m.topic, m.key, m.value, list(m.headers)) for m in second])
    expected = consumed_before + len(messages)
    wait_for(lambda: total(worker, "consumed") >= expected, "second half consumed")
    # Nothing lost, nothing read twice: every input partition's offsets, each counted once.
    counts = accounting(worker)
    assert total(worker, "consumed") == expected
    ends = {}
    for topic in {m.topic for m in messages}:
        for record in await read_all(bootstrap, topic, partitions=3):
            ends[topic, record.partition] = record.offset + 1
    for (topic, partition), end in ends.items():
        counted = counts[topic, partition]
        assert counted["next_offset"] == end
        assert counted["consumed"] == end  # read from offset 0, each record once
        assert counted["consumed"] == sum(counted[o] for o in OUTCOMES)
    invalid = [m for m in messages if m.kind.startswith("invalid:")]
    letters = await read_all(bootstrap, "hub.dead-letter", partitions=3)
    origins = [origin(d) for d in letters]
    assert len(set(origins)) == len(origins)  # each once
    new = [d for d in letters if origin(d) not in letters_before]
    reasons = Counter(dict(d.headers)["hub.error.reason"].decode() for d in new)
    assert reasons == Counter(m.kind.removeprefix("invalid:") for m in invalid)

    # The picture is exactly what was sent, and the one stream never repeats or goes back.
    latest = worker.get_json("/api/v1/capability")[1]["sequence"]
    assert as_published(worker.wait_snapshot_after(latest)) == expected_picture(
        ground_truth(messages)
    )
    published = await read_all(bootstrap, "national.capability")
    sequences = [json.loads(r.value)["sequence"] for r in published]
    assert sequences == list(range(1, len(sequences) + 1))
