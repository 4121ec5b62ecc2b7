"""The worker's ordering duties, with stand-ins for the Kafka clients.

These check the worker's own sequencing (outputs and offsets in one transaction,
snapshot numbering); what Kafka does is left to the integration tests.
"""

import asyncio
import json
from dataclasses import replace
from typing import Any

from aiokafka import TopicPartition

from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.worker import HubWorker
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka
from tests.unit.helpers import SCHEMAS, event, record


async def worker(kafka: FakeKafka) -> HubWorker:
    hub = HubWorker(HubSettings(), Registry.load(SCHEMAS), clients=kafka)
    await hub.checkpoint.start()
    return hub


def batches() -> dict[TopicPartition, list[Any]]:
    good, bad = (
        replace(record(event()), partition=0, offset=41),
        replace(record(b"nope"), partition=0, offset=42),
    )
    tp = TopicPartition(good.topic, 0)
    return {tp: [good, bad]}


async def test_a_batch_commits_its_outputs_and_offsets_in_one_transaction() -> None:
    kafka = FakeKafka()
    hub = await worker(kafka)
    result = await hub.handle_batch(batches())
    assert result.consumed == 2
    await hub.sync.lock.committed()  # the transaction runs on after the batch
    next_to_read = {TopicPartition("dept.pirkanmaa.unit-status", 0): 43}
    assert kafka.offsets == {"pelastus-hub": next_to_read}
    assert [sent.topic for sent in kafka.written] == [
        "hub.dead-letter",
        "feedback.pirkanmaa",
        "hub.state.unit-status",
    ]
    assert kafka.log == ["start", "commit"]
    counts = hub.accounting[TopicPartition("dept.pirkanmaa.unit-status", 0)]
    assert (counts["consumed"], counts["accepted"], counts["dead_lettered"]) == (2, 1, 1)


async def test_the_next_batch_is_processed_while_the_last_one_commits() -> None:
    kafka = FakeKafka(hold={0})  # the first batch's dead letter waits for its ack
    hub = await worker(kafka)
    # Returns once processed (bounded: a hang otherwise), its transaction still open.
    first = await asyncio.wait_for(hub.handle_batch(batches()), 5)
    assert first is not None and kafka.log == ["start"]

    tp = TopicPartition("dept.pirkanmaa.unit-status", 0)
    newer = event(observed_at="2026-11-28T07:50:00+02:00")
    newer["id"] = "a-later-event"
    second = asyncio.create_task(
        hub.handle_batch({tp: [replace(record(newer), partition=0, offset=43)]})
    )
    states = hub.sync.stores["unit-status"].states
    async with asyncio.timeout(5):  # a bound on a hang
        while states["pirkanmaa/RPI487"].event_id != "a-later-event":
            await asyncio.sleep(0)
    # Processed meanwhile, but its transaction waits for the first one's.
    assert not second.done() and kafka.log == ["start"] and kafka.offsets == {}
    assert not hub.accounting  # counted once committed

    (held,) = kafka.producers[0].held
    held.set_result(None)
    await second
    await hub.sync.lock.committed()
    assert kafka.log == ["start", "commit", "commit"]
    assert kafka.offsets == {"pelastus-hub": {tp: 44}}
    assert hub.accounting[tp]["consumed"] == 3


async def test_who_takes_the_state_lock_waits_for_the_transaction_in_flight() -> None:
    kafka = FakeKafka(hold={0})
    hub = await worker(kafka)
    await hub.handle_batch(batches())
    entered = asyncio.Event()

    async def catch_up() -> None:
        async with hub.sync.lock:
            entered.set()

    taker = asyncio.create_task(catch_up())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not entered.is_set()
    kafka.producers[0].held[0].set_result(None)
    await taker
    assert kafka.log == ["start", "commit"]


class Leadership:
    """Stands in for pelastus_hub.picture.leadership.Leadership: leads, or is fenced at the n-th send."""

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


async def publishing(leadership: Leadership) -> HubWorker:
    hub = await worker(FakeKafka())
    hub.snapshots.leadership = leadership  # type: ignore[assignment]

    async def caught_up(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(0)

    hub.sync.catch_up = caught_up  # type: ignore[method-assign]
    hub.sync.follow_kpis = caught_up  # type: ignore[method-assign]
    return hub


async def test_overlapping_snapshots_get_distinct_growing_numbers() -> None:
    leadership = Leadership()
    hub = await publishing(leadership)
    first, second = await asyncio.gather(hub.snapshots.publish(), hub.snapshots.publish())
    assert (first.sequence, second.sequence) == (1, 2)  # type: ignore[union-attr]
    assert hub.snapshots.latest is not None and hub.snapshots.latest.sequence == 2
    assert [json.loads(value)["sequence"] for value in leadership.sent] == [1, 2]


async def test_only_the_leader_publishes_and_a_fenced_one_stops() -> None:
    follower = await publishing(Leadership(leading=False))
    assert await follower.snapshots.publish() is None
    leadership = Leadership(fenced_at=1)
    hub = await publishing(leadership)
    assert (await hub.snapshots.publish()).sequence == 1  # type: ignore[union-attr]
    assert await hub.snapshots.publish() is None  # fenced: another worker leads now
    assert await hub.snapshots.publish() is None
    assert hub.snapshots.sequence == 1 and len(leadership.sent) == 1


def test_every_family_has_a_store_and_its_topics_are_consumed() -> None:
    hub = HubWorker(HubSettings(), Registry.load(SCHEMAS))
    assert set(hub.sync.stores) == set(FAMILIES)
    assert {family.name for _, family in hub.routes.values()} == set(FAMILIES)
    assert len(hub.routes) == len(FAMILIES) * 21


async def test_a_snapshots_catch_up_runs_beside_the_transaction_in_flight() -> None:
    kafka = FakeKafka(hold={0})
    hub = await worker(kafka)
    await hub.handle_batch(batches())
    read = asyncio.Event()

    async def read_changelogs() -> None:
        read.set()

    hub.sync._read_changelogs = read_changelogs  # type: ignore[method-assign]
    await asyncio.wait_for(hub.sync.catch_up(beside_transaction=True), 5)  # a bound on a hang
    assert read.is_set() and kafka.log == ["start"]  # the batch's transaction still open
    kafka.producers[0].held[0].set_result(None)
    await hub.sync.lock.committed()
    assert kafka.log == ["start", "commit"]
