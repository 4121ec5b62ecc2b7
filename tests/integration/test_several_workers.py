"""Two workers share the inputs; the one snapshot stream is still exactly right.

A seeded simulation (duplicates, out-of-order and invalid messages included) goes
through two worker processes in one consumer group. The published snapshot is
compared with the simulation's ground truth, worked out from what was sent, not
by the hub's code. Then the leading worker stops, and the other carries the same
sequence on with the same picture. A broker of its own: the snapshot stream must
hold only this scenario's snapshots.
"""

import asyncio
import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pelastus_hub.contract.registry import Registry
from pelastus_hub.tools.simulator import generate, ground_truth
from tests.integration.hub_process import WorkerProcess
from tests.integration.test_worker import produce, read_all

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
REGISTRY = Registry.load(SCHEMAS)
COUNT = 4000
SHARES = dict(invalid_share=0.05, duplicate_share=0.03, out_of_order_share=0.03, binary_share=0.1)
# As the README defines them; written out here so that the check does not lean on the hub's code.
AVAILABLE = {"available_at_station", "available"}
COMMITTED = {"reserved", "dispatched", "en_route", "on_scene"}


def expected_picture(truth: dict) -> dict[str, dict]:
    """Per department: what the snapshot must say, from the ground truth alone."""
    picture = {
        code: {
            "units": 0,
            "available": 0,
            "committed": 0,
            "out_of_service": 0,
            "by_status": Counter(),
            "open": 0,
            "by_urgency": Counter(),
            "readiness": Counter(),
        }
        for code in REGISTRY.codes
    }
    for data in truth["units"].values():
        view = picture[data["department"]]
        view["units"] += 1
        view["by_status"][data["status"]] += 1
        if data["status"] in AVAILABLE:
            view["available"] += 1
        elif data["status"] in COMMITTED:
            view["committed"] += 1
        else:
            view["out_of_service"] += 1
    for incident in truth["incidents"].values():
        if incident["ended"] is None:
            view = picture[incident["department"]]
            view["open"] += 1
            view["by_urgency"][incident.get("urgency", "unknown")] += 1
    for data in truth["stations"].values():
        counts = picture[data["department"]]["readiness"]
        counts.update({**data["on_duty"], "volunteers_available": data["volunteers_available"]})
        counts["stations"] += 1
    return picture


def as_published(snapshot: dict) -> dict[str, dict]:
    """The same figures, read from a published snapshot."""
    return {
        code: {
            "units": view["units"],
            "available": view["available"],
            "committed": view["committed"],
            "out_of_service": view["out_of_service"],
            "by_status": Counter({s: n for s, n in view["units_by_status"].items() if n}),
            "open": view["incidents"]["open"],
            "by_urgency": Counter({u: n for u, n in view["incidents"]["by_urgency"].items() if n}),
            "readiness": Counter({k: n for k, n in view["readiness"].items() if n}),
        }
        for code, view in snapshot["departments"].items()
    }


async def snapshot_after_request(broker: str) -> dict:
    """A snapshot whose building began after this call: the second one published after the
    last one seen here (the first may have been under way already). A request hurries it."""
    before = await read_all(broker, "national.capability")
    last = json.loads(before[-1].value)["sequence"] if before else 0
    await produce(broker, [("hub.snapshot-requests", None, b"now", [])])
    for _ in range(300):
        published = [json.loads(r.value) for r in await read_all(broker, "national.capability")]
        newer = [s for s in published if s["sequence"] > last + 1]
        if newer:
            return newer[0]
    raise AssertionError("no snapshot after the request")


async def test_two_workers_publish_one_exact_stream(broker, tmp_path):
    start = datetime.now(UTC) - timedelta(hours=1)
    messages = list(itertools.islice(generate(REGISTRY, 11, start, 50.0, **SHARES), COUNT))
    truth = ground_truth(messages)
    workers = [WorkerProcess(broker, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        await produce(broker, [(m.topic, m.key, m.value, list(m.headers)) for m in messages])
        consumed = 0
        for _ in range(600):
            consumed = sum(sum(w.records_total().values()) for w in workers)
            if consumed >= COUNT:
                break
            await asyncio.sleep(0.2)
        assert consumed == COUNT
        # Both took part: the input partitions were shared.
        shares = [w.get_json("/readyz")[1]["partitions_assigned"] for w in workers]
        assert all(shares) and sum(shares) == 3 * 3 * 21, shares

        snapshot = await snapshot_after_request(broker)
        assert as_published(snapshot) == expected_picture(truth)
        assert snapshot["national"]["units"] == len(truth["units"])

        published = [json.loads(r.value) for r in await read_all(broker, "national.capability")]
        sequences = [s["sequence"] for s in published]
        assert sequences == list(range(1, len(sequences) + 1))  # one stream, no gaps or repeats
        leaders = [w for w in workers if w.counter("pelastus_hub_snapshots_published_total", ())]
        assert len(leaders) == 1

        # The leader goes; the other leads on, from the same sequence and the same picture.
        (leader,) = leaders
        assert leader.stop() == 0
        follower = next(w for w in workers if w is not leader)
        after = await snapshot_after_request(broker)
        assert after["sequence"] > snapshot["sequence"]
        assert as_published(after) == expected_picture(truth)
        sequences = [
            json.loads(r.value)["sequence"] for r in await read_all(broker, "national.capability")
        ]
        assert sequences == list(range(1, len(sequences) + 1))
        assert follower.counter("pelastus_hub_snapshots_published_total", ())
    finally:
        for worker in workers:
            if worker.process and worker.process.poll() is None:
                worker.stop()
