"""The state reader on the real broker: where its reads end, what they pass by unfetched."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from pelastus_hub.clients import KafkaClients
from pelastus_hub.families import FAMILIES
from pelastus_hub.picture.kpi import KpiBook
from pelastus_hub.picture.kpi_windows import Windows
from pelastus_hub.runtime.state_sync import StateSync
from pelastus_hub.settings import HubSettings
from tests.integration import topics

pytestmark = pytest.mark.integration


async def passing(what, operation):
    return await operation()


async def written_in_transactions(bootstrap: str, topic: str, transactions: list[int]) -> None:
    """`transactions`: how many records each committed transaction writes, in order."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"{topic}-writer", linger_ms=0
    )
    await producer.start()
    try:
        for number, count in enumerate(transactions):
            async with producer.transaction():
                for i in range(count):
                    await producer.send(topic, f"{number}.{i}".encode(), partition=0)
    finally:
        await producer.stop()


async def committed_up_to(sync: StateSync, tp: TopicPartition, end: int) -> None:
    """The broker answers a commit before it has written the transaction's markers: wait
    (bounded) until the partition's committed records reach `end`."""
    async with asyncio.timeout(30):
        while (await sync.reader.end_offsets([tp]))[tp] < end:
            await asyncio.sleep(0.05)


async def taken(sync: StateSync, positions: dict, skip=None) -> list[int]:
    return [record.offset async for record in sync.read(positions, skip)]


async def test_a_read_ends_past_the_markers_and_passes_by_what_it_is_told_to(
    kafka_bootstrap,
) -> None:
    topic = f"state-reader-{time.time_ns()}"
    await topics.create(kafka_bootstrap, topic, 1)
    # Records 0-2 and their marker at 3; records 4-5 and their marker at 6.
    await written_in_transactions(kafka_bootstrap, topic, [3, 2])
    settings = HubSettings(bootstrap_servers=kafka_bootstrap)
    book = KpiBook(Windows(settings.kpi_time_zone), settings.kpi_grace_seconds, {})
    sync = StateSync(KafkaClients.from_settings(settings), FAMILIES, book, passing)
    await sync.start()
    tp = TopicPartition(topic, 0)
    try:
        positions = {tp: 0}
        await committed_up_to(sync, tp, 7)
        # 4 and 5 are passed by, as the worker passes by the batches it wrote itself.
        assert await taken(sync, positions, lambda _, at: 6 if 4 <= at < 6 else at) == [0, 1, 2]
        assert positions == {tp: 7}  # past the last marker: the next read has nothing to do
        assert await taken(sync, positions) == []

        await written_in_transactions(kafka_bootstrap, topic, [1])  # 7, marker at 8
        await committed_up_to(sync, tp, 9)
        assert await taken(sync, positions) == [7]
        assert positions == {tp: 9}

        # From the end: the last three offsets hold one record.
        assert await taken(sync, {tp: -3}) == [7]
    finally:
        await sync.reader.stop()
