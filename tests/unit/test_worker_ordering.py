"""The worker's ordering duties, with stand-ins for the Kafka clients.

These check the worker's own sequencing (acks before commit, snapshot
numbering, a failed commit); what Kafka does is left to the integration tests.
"""

import asyncio
import json
from dataclasses import replace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from hub.delivery import Delivery
from hub.families import FAMILIES
from hub.registry import Registry
from hub.settings import HubSettings
from hub.worker import HubWorker
from tests.unit.helpers import SCHEMAS, event, record


class Producer:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.sent: list[tuple[str, Any]] = []

    async def send(self, topic: str, value: Any = None, key: Any = None, **_: Any) -> Any:
        self.sent.append((topic, value))
        return self._acked(topic)

    def create_batch(self) -> "Batch":
        return Batch()

    async def send_batch(self, batch: "Batch", topic: str, partition: int) -> Any:
        self.sent.extend((topic, value) for value in batch.values)
        return self._acked(topic)

    def _acked(self, topic: str) -> Any:
        future = asyncio.get_running_loop().create_future()

        def ack() -> None:
            self.log.append(f"ack {topic}")
            future.set_result(None)

        asyncio.get_running_loop().call_soon(ack)
        return future


class Batch:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, key: bytes, value: bytes, timestamp: None) -> object:
        self.values.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.values)


class Consumer:
    def __init__(self, log: list[str], error: Exception | None = None) -> None:
        self.log = log
        self.error = error

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append(f"commit {sorted(offsets.values())}")
        if self.error:
            raise self.error


def worker(log: list[str], commit_error: Exception | None = None) -> HubWorker:
    hub = HubWorker(HubSettings(), Registry.load(SCHEMAS))
    hub.delivery = Delivery(Producer(log))  # type: ignore[arg-type]
    hub._consumer = Consumer(log, commit_error)  # type: ignore[assignment]
    return hub


def batches() -> dict[TopicPartition, list[Any]]:
    good, bad = (
        replace(record(event()), partition=0, offset=41),
        replace(record(b"nope"), partition=0, offset=42),
    )
    tp = TopicPartition(good.topic, 0)
    return {tp: [good, bad]}


async def test_offsets_are_committed_only_after_every_side_output_is_acknowledged() -> None:
    log: list[str] = []
    hub = worker(log)
    result = await hub.handle_batch(batches())
    assert result.consumed == 2
    assert log[-1] == "commit [43]"  # the next offset to read
    assert sorted(log[:-1]) == [
        "ack feedback.pirkanmaa",
        "ack hub.dead-letter",
        "ack hub.state.unit-status",
    ]


async def test_a_failed_commit_does_not_stop_the_worker() -> None:
    log: list[str] = []
    hub = worker(log, CommitFailedError("rebalanced"))
    result = await hub.handle_batch(batches())
    assert result.consumed == 2
    assert hub.unit_store.units  # the state stands; the new owner's replay finds duplicates


class Leadership:
    """Stands in for hub.leadership.Leadership: leads, or is fenced at the n-th send."""

    def __init__(self, leading: bool = True, fenced_at: int | None = None) -> None:
        self.leading = leading
        self.fenced_at = fenced_at
        self.sent: list[bytes] = []

    async def settle(self) -> bool:
        return False

    async def send(self, records: list[tuple[str, bytes, bytes]]) -> bool:
        await asyncio.sleep(0)  # lets an overlapping call run here
        if len(self.sent) == self.fenced_at:
            self.leading = False
            return False
        self.sent += [value for topic, _, value in records if topic == "national.capability"]
        return True


def publishing(leadership: Leadership) -> HubWorker:
    hub = worker([])
    hub.leadership = leadership  # type: ignore[assignment]

    async def caught_up() -> None:
        await asyncio.sleep(0)

    hub._catch_up_state = caught_up  # type: ignore[method-assign]
    hub._follow_kpis = caught_up  # type: ignore[method-assign]
    return hub


async def test_overlapping_snapshots_get_distinct_growing_numbers() -> None:
    leadership = Leadership()
    hub = publishing(leadership)
    first, second = await asyncio.gather(hub.publish_snapshot(), hub.publish_snapshot())
    assert (first["sequence"], second["sequence"]) == (1, 2)  # type: ignore[index]
    assert hub.latest_snapshot is not None and hub.latest_snapshot["sequence"] == 2
    assert [json.loads(value)["sequence"] for value in leadership.sent] == [1, 2]


async def test_only_the_leader_publishes_and_a_fenced_one_stops() -> None:
    follower = publishing(Leadership(leading=False))
    assert await follower.publish_snapshot() is None
    leadership = Leadership(fenced_at=1)
    hub = publishing(leadership)
    assert (await hub.publish_snapshot())["sequence"] == 1  # type: ignore[index]
    assert await hub.publish_snapshot() is None  # fenced: another worker leads now
    assert await hub.publish_snapshot() is None
    assert hub.sequence == 1 and len(leadership.sent) == 1


def test_every_family_has_a_store_and_its_topics_are_consumed() -> None:
    hub = HubWorker(HubSettings(), Registry.load(SCHEMAS))
    assert set(hub.stores) == set(FAMILIES)
    assert {family.name for _, family in hub.routes.values()} == set(FAMILIES)
    assert len(hub.routes) == len(FAMILIES) * 21
