"""FakeKafka: a stand-in for pelastus_hub.clients.KafkaClients that makes producers only.

Its producers deliver what they are sent at once, and take part in transactions as
aiokafka's transactional producer does: what is sent in one is written when it commits
and dropped when it aborts. Sends are numbered from 0 over all its producers, a record
each (a record batch by its first), and failures are scripted by number: `refuse` (the
send raises the error), `fail` (the delivery fails with it), `hold` (never delivered;
stopping then hangs, as aiokafka's stop waits for what is pending). `refuse_every` is
raised by every send while it is set, `start_error` by every start. A delivery's
metadata names partition 0, with the send's number for offset.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata


class Sent(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None


@dataclass
class FakeKafka:
    refuse: dict[int, Exception] = field(default_factory=dict)
    fail: dict[int, Exception] = field(default_factory=dict)
    hold: set[int] = field(default_factory=set)
    refuse_every: Exception | None = None
    start_error: Exception | None = None
    producers: list["FakeProducer"] = field(default_factory=list, init=False)
    # Every record sent, whatever came of it.
    sends: list[Sent] = field(default_factory=list, init=False)
    # What a reader of committed records reads, in order.
    written: list[Sent] = field(default_factory=list, init=False)
    # The offsets committed in transactions, by group.
    offsets: dict[str, dict[TopicPartition, int]] = field(default_factory=dict, init=False)
    # "start", "stop", "commit" and "abort", of all its producers.
    log: list[str] = field(default_factory=list, init=False)
    # The topics each new producer was asked the partitions of, in order.
    learnt: list[str] = field(default_factory=list, init=False)

    def producer(self, **config: Any) -> "FakeProducer":
        self.producers.append(FakeProducer(self, config))
        return self.producers[-1]


class FakeProducer:
    def __init__(self, kafka: FakeKafka, config: dict[str, Any]) -> None:
        self.kafka = kafka
        self.config = config
        self.held: list[asyncio.Future[RecordMetadata]] = []
        # What the open transaction has sent, and the offsets it commits; None: none open.
        self._pending: list[Sent] | None = None
        self._offsets: dict[str, dict[TopicPartition, int]] = {}

    async def start(self) -> None:
        if self.kafka.start_error is not None:
            raise self.kafka.start_error
        self.kafka.log.append("start")

    async def stop(self) -> None:
        self.kafka.log.append("stop")
        if self.held:
            await asyncio.Event().wait()

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        # As aiokafka's compiled record builder insists.
        assert headers is None or isinstance(headers, list)
        return self._deliver([Sent(topic, key, value, headers)])

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> RecordMetadata:
        return await (await self.send(*args, **kwargs))

    async def partitions_for(self, topic: str) -> set[int]:
        self.kafka.learnt.append(topic)
        return {0}

    def create_batch(self) -> "FakeBatch":
        return FakeBatch()

    async def send_batch(
        self, batch: "FakeBatch", topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata]:
        return self._deliver([Sent(topic, *record) for record in batch.records])

    async def begin_transaction(self) -> None:
        self._pending, self._offsets = [], {}

    async def send_offsets_to_transaction(
        self, offsets: dict[TopicPartition, int], group_id: str
    ) -> None:
        self._offsets[group_id] = dict(offsets)

    async def commit_transaction(self) -> None:
        self.kafka.written += self._pending or []
        for group, offsets in self._offsets.items():
            self.kafka.offsets.setdefault(group, {}).update(offsets)
        self._pending = None
        self.kafka.log.append("commit")

    async def abort_transaction(self) -> None:
        self._pending = None
        self.kafka.log.append("abort")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self.begin_transaction()
        try:
            yield
        except BaseException:
            await self.abort_transaction()
            raise
        await self.commit_transaction()

    def _deliver(self, records: list[Sent]) -> asyncio.Future[RecordMetadata]:
        kafka, number = self.kafka, len(self.kafka.sends)
        kafka.sends += records
        if kafka.refuse_every is not None:
            raise kafka.refuse_every
        if number in kafka.refuse:
            raise kafka.refuse[number]
        delivery = asyncio.get_running_loop().create_future()
        if number in kafka.fail:
            delivery.set_exception(kafka.fail[number])
        elif number in kafka.hold:
            self.held.append(delivery)
        else:
            topic = records[0].topic
            delivery.set_result(
                RecordMetadata(topic, 0, TopicPartition(topic, 0), number, -1, 0, 0)
            )
            (kafka.written if self._pending is None else self._pending).extend(records)
        return delivery


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    def append(
        self,
        key: bytes | None,
        value: bytes | None,
        timestamp: None,
        headers: list[tuple[str, bytes]],
    ) -> object:
        # As aiokafka's compiled record builder insists.
        assert isinstance(headers, list)
        self.records.append((key, value, headers))
        return object()

    def record_count(self) -> int:
        return len(self.records)
