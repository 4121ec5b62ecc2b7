"""Change-driven snapshots on the real broker: the leader publishes soon after a change,
well before its cadence, and never more often than the minimum spacing."""

import time
from datetime import UTC, datetime

import pytest

from pelastus_hub import Publisher
from pelastus_hub.settings import HubSettings
from tests.integration.hub_process import WorkerProcess

pytestmark = pytest.mark.integration

# A cadence far longer than the test waits: any snapshot it sees after a change was
# published because of the change.
CADENCE = "600"
SPACING = 0.25


def unit(unit_id: str, status: str) -> dict:
    return {
        "department": "kainuu",
        "unit_id": unit_id,
        "unit_type": "rescue_unit",
        "status": status,
        "station_id": "KA-1",
        "crew": 4,
        "capabilities": [],
        "observed_at": datetime.now(UTC).isoformat(),
    }


@pytest.fixture(scope="module")
def spaced(broker, tmp_path_factory):
    process = WorkerProcess(
        broker,
        tmp_path_factory.mktemp("spaced") / "worker.log",
        snapshot_interval_seconds=CADENCE,
        snapshot_min_spacing_seconds=str(SPACING),
    )
    process.start()
    yield process
    process.stop()


def published(worker: WorkerProcess) -> float:
    return sum(worker.counter("pelastus_hub_snapshots_published_total", ()).values())


async def test_a_change_is_published_soon_and_changes_are_spaced(broker, spaced):
    status, first = spaced.get_json("/api/v1/capability")  # 503 until the first snapshot
    start = first["sequence"] if status == 200 else 0
    async with Publisher(
        "kainuu", source="/kainuu/test", settings=HubSettings(bootstrap_servers=broker)
    ) as hub:
        await hub.publish("unit-status", unit("RKA1", "available"))
        seen = spaced.wait_snapshot_after(start, timeout=20)
        assert seen["departments"]["kainuu"]["units"] == 1

        # A burst of changes: snapshots follow, but at most one per spacing.
        before, started = published(spaced), time.monotonic()
        for number in range(40):
            await hub.publish("unit-status", unit(f"RKA{100 + number}", "dispatched"))
        deadline = time.monotonic() + 20
        while spaced.get_json("/api/v1/capability/kainuu")[1]["units"] < 41:
            assert time.monotonic() < deadline, "the burst never showed in a snapshot"
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        during = published(spaced) - before
        assert 1 <= during <= elapsed / SPACING + 1, (during, elapsed)
