"""The bench's data: backlogs of simulated unit-status messages produced before the pipelines
read them, and consumer groups started where a backlog begins.

Every round and every scale-out run reads a backlog of its own. The hub keeps its state in
changelog topics that outlive a consumer group (a worker restores from them), so a backlog
read again would be duplicates and stale events to the hub: each backlog has a seed of its
own and event times after the one before it, and every group starts at its backlog's first
offsets rather than at the earliest ones.
"""

import asyncio
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.simulator import Message, generate

SEED = 2026
# Simulated messages per second of event time.
EVENT_RATE = 1000.0
# The load: mostly valid traffic, with the bad input a real exchange sees.
SHARES = {
    "invalid_share": 0.01,
    "duplicate_share": 0.01,
    "out_of_order_share": 0.01,
    "binary_share": 0.02,
}
# Where each partition's next offset is: a backlog's start.
Positions = Mapping[TopicPartition, int]


def say(line: str) -> None:
    """Progress, on stderr: the report alone goes to stdout."""
    print(line, file=sys.stderr, flush=True)


def unit_statuses(messages: Iterable[Message]) -> Iterator[Message]:
    """The unit-status part of simulated traffic: what the reference pipelines compare on."""
    return (m for m in messages if m.family == "unit-status")


class Backlogs:
    """`backlogs` backlogs of `count` messages each, spread over every department (and so
    every partition); backlog i is later in event time than backlog i - 1, and all of them
    lie in the past, well within what the hub accepts."""

    def __init__(self, registry: Registry, count: int, backlogs: int) -> None:
        self.registry = registry
        self.count = count
        self.span = timedelta(seconds=count / EVENT_RATE + 60)
        self.first = datetime.now(UTC) - timedelta(hours=1) - self.span * backlogs

    def messages(self, index: int, count: int | None = None) -> list[Message]:
        """Backlog `index`: its first `count` messages (all `self.count` by default)."""
        start = self.first + self.span * index
        traffic = generate(self.registry, SEED + index, start, EVENT_RATE, **SHARES)
        return list(itertools.islice(unit_statuses(traffic), count or self.count))


async def produce(
    settings: HubSettings,
    messages: list[Message],
    partition: int | None = None,
    transactional_id: str | None = None,
) -> None:
    """Sends the messages; with a transactional_id, in one transaction, which consumers that
    read committed records (the hub's workers) see all at once when it commits."""
    producer = AIOKafkaProducer(
        **settings.kafka_options(),
        acks="all",
        linger_ms=20,
        max_batch_size=262144,
        transactional_id=transactional_id,
        # The broker's default ceiling: a large backlog takes its time to send.
        transaction_timeout_ms=900_000,
    )
    await producer.start()
    try:
        if transactional_id:
            await producer.begin_transaction()
        pending = []
        for i, message in enumerate(messages, 1):
            pending.append(
                await producer.send(
                    message.topic,
                    message.value,
                    message.key,
                    partition=partition,
                    headers=list(message.headers),
                )
            )
            if i % 20000 == 0:
                await asyncio.gather(*pending)
                pending.clear()
                say(f"  produced {i} of {len(messages)}")
        await asyncio.gather(*pending)
        if transactional_id:
            await producer.commit_transaction()
    finally:
        await producer.stop()


async def end_offsets(settings: HubSettings, topics: Iterable[str]) -> Positions:
    """Every partition of the topics, at its end: where a backlog produced next begins."""
    admin = KafkaClients.from_settings(settings).admin()
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(**settings.kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def start_group_at(settings: HubSettings, group: str, positions: Positions) -> None:
    """Commits the positions for a group that has not started yet: its consumers, of any
    client, begin there. A partition at 0 is left to the group's own "earliest", the
    same records: Quix Streams takes about a second per committed partition to start."""
    offsets = {tp: offset for tp, offset in positions.items() if offset > 0}
    if not offsets:
        return
    consumer = AIOKafkaConsumer(
        **settings.kafka_options(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()
