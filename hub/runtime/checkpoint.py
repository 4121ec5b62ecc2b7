"""A batch's outputs and its input offsets in one Kafka transaction: all of them, or none.

Dead letters, feedback and changed states are produced, and the offsets of the
records that caused them are committed, in one transaction of a producer whose
transactional id is this worker's own. A worker killed at any point leaves an
open transaction that is aborted (at once, when a worker with its id starts
again, or after PELASTUS_HUB_TRANSACTION_TIMEOUT_SECONDS), and the batch is read
again from the last committed offsets: no dead letter or feedback is written
twice. Readers of the hub's topics read committed records only.

Through a broker outage of any length the transaction is tried again, on a new
producer when the broker has given up on the old one's (it times out open
transactions). Only an error no retry can mend is raised: the worker crashes on
it and the process exits, so that an orchestrator restarts it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerFenced,
    RecordTooLargeError,
)

from pelastus_hub.clients import KafkaClients
from pelastus_hub.pipeline.outputs import OutRecord
from pelastus_hub.runtime.retry import failure_reason, is_retriable, retrying, worker_delay
from pelastus_hub.settings import HubSettings

log = logging.getLogger(__name__)

# How long a stuck producer may take to stop before it is left behind: its id is
# fenced by the next one, so nothing it still holds can be committed.
STOP_SECONDS = 5.0
# The largest record batch the batch producer fills (Checkpoint._new_producer).
RECORD_BATCH_BYTES = 256 * 1024
# How long a new batch producer waits to learn the partitions of the topics it writes; one
# it has not learnt by then is learnt when its first record is sent.
LEARN_TOPICS_SECONDS = 5.0
# The broker ended the transaction (it timed out during an outage, or the producer
# was fenced): a new producer with the same id starts a new epoch and goes on.
RESTART_ON = (ProducerFenced, InvalidProducerEpoch)


class Written(NamedTuple):
    """A record batch a transaction wrote to a partition of its own choosing (a changelog)."""

    partition: TopicPartition
    first: int  # its first offset
    count: int


class Checkpoint:
    def __init__(
        self,
        clients: KafkaClients,
        settings: HubSettings,
        on_failure: Callable[[BaseException], None] = lambda error: None,
        topics: Sequence[str] = (),
    ) -> None:
        """`topics`: those the batches write to, which each new producer learns at once."""
        self.clients = clients
        self.settings = settings
        self.on_failure = on_failure
        self.topics = tuple(topics)
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = await retrying("starting the batch producer", self._started)

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            await _stop(producer)

    async def commit(
        self, records: Sequence[OutRecord], offsets: dict[TopicPartition, int]
    ) -> list[Written]:
        """Produce the records and commit the offsets in one transaction, retrying it whole
        until it commits or fails for good. Returns where the changelog records went."""
        records = list(records)
        retry = 0
        while True:
            try:
                return await self._transaction(records, offsets)
            except (MessageSizeTooLargeError, RecordTooLargeError) as error:
                if not self._shrink(records):
                    raise
                failure: BaseException = error  # the broker's limit is below the hub's
            except RESTART_ON as error:
                failure = error
                await self._restart()
            except Exception as error:
                if not is_retriable(error):
                    raise
                failure = error
                self.on_failure(error)
            retry += 1
            if retry == 1 or retry % 20 == 0:
                log.warning(
                    "a batch's transaction failed (%s), trying it again (retry %d)",
                    failure_reason(failure),
                    retry,
                )
            await asyncio.sleep(worker_delay(retry))

    async def _transaction(
        self, records: list[OutRecord], offsets: dict[TopicPartition, int]
    ) -> list[Written]:
        producer = self.producer
        assert producer is not None, "start() first"
        await producer.begin_transaction()
        try:
            sent = [pair for unit in _units(records) for pair in await self._send(producer, unit)]
            acks = await asyncio.gather(*(ack for ack, _ in sent))
            if offsets:
                await producer.send_offsets_to_transaction(offsets, self.settings.group_id)
            await producer.commit_transaction()
        except Exception:
            await self._abort(producer)
            raise
        counts = (count for _, count in sent)
        return [
            Written(a.topic_partition, a.offset, n) for a, n in zip(acks, counts, strict=True) if n
        ]

    async def _abort(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.abort_transaction(), STOP_SECONDS)
        except Exception:
            # Unreachable broker, or a transaction the broker has ended already: a new
            # producer with this id fences the old one, and the broker aborts what it left.
            await self._restart()

    async def _send(
        self, producer: AIOKafkaProducer, unit: list[OutRecord]
    ) -> list[tuple[Any, int]]:
        """The acks of the unit's sends, each with the records of its batch (0: a record
        sent alone, to a partition the producer chose)."""
        first = unit[0]
        if first.partition is None:
            headers = list(first.headers)
            return [(await producer.send(first.topic, first.value, first.key, headers=headers), 0)]
        acks = []
        batch = producer.create_batch()
        for record in unit:
            if _append(batch, record) is None:
                count = batch.record_count()
                ack = await producer.send_batch(batch, first.topic, partition=first.partition)
                acks.append((ack, count))
                batch = producer.create_batch()
                if _append(batch, record) is None:
                    raise MessageSizeTooLargeError(f"a {record.size}-byte state fits no batch")
        if count := batch.record_count():
            ack = await producer.send_batch(batch, first.topic, partition=first.partition)
            acks.append((ack, count))
        return acks

    def _shrink(self, records: list[OutRecord]) -> bool:
        """Put in the smaller stand-ins of the records that have them (dead letters); False
        if there were none left to put in."""
        shrunk = False
        for i, record in enumerate(records):
            if record.smaller is not None:
                records[i], shrunk = record.smaller, True
        return shrunk

    async def _restart(self) -> None:
        if self.producer is not None:
            await _stop(self.producer)
        self.producer = await retrying("restarting the batch producer", self._started)

    def _new_producer(self) -> AIOKafkaProducer:
        settings = self.settings
        return self.clients.producer(
            # This worker's own: a restarted worker with the same id aborts at once what
            # its former run left open, and fences that run should it still be alive.
            transactional_id=f"{settings.group_id}-batches-{settings.instance}",
            transaction_timeout_ms=int(settings.transaction_timeout_seconds * 1000),
            linger_ms=2,
            # What the hub writes is kept within the message limit (pelastus_hub.pipeline.outputs).
            max_request_size=settings.max_record_bytes,
            # A batch's sends fill record batches of this size before one must be sent and
            # acknowledged, within the transaction, to make room (16 KiB by default: every
            # few dead letters). Within max_message_bytes, so a batch fits every topic the
            # hub makes, whose limits are max_record_bytes or the broker's (1 MiB).
            max_batch_size=min(RECORD_BATCH_BYTES, settings.max_message_bytes),
        )

    async def _started(self) -> AIOKafkaProducer:
        producer = self._new_producer()
        try:
            await producer.start()  # aborts what a former producer with this id left open
        except BaseException:
            await _stop(producer)
            raise
        await self._learn_topics(producer)
        return producer

    async def _learn_topics(self, producer: AIOKafkaProducer) -> None:
        """Asked for together, the topics' partitions come in one metadata request. Met one
        by one in the first transaction, each would cost a round trip to the broker, while
        that transaction, and so the next batch, waits."""
        learnt = asyncio.gather(*(producer.partitions_for(topic) for topic in self.topics))
        with contextlib.suppress(KafkaError, TimeoutError):
            await asyncio.wait_for(learnt, LEARN_TOPICS_SECONDS)


def _append(batch: Any, record: OutRecord) -> Any:
    """Into a record batch with its headers (a changelog record's format); None if full."""
    headers = list(record.headers)
    return batch.append(key=record.key, value=record.value, timestamp=None, headers=headers)


def _units(records: Sequence[OutRecord]) -> list[list[OutRecord]]:
    """Records sent one by one, and runs of records for one partition (the changelogs), which
    go in record batches in their order."""
    units: list[list[OutRecord]] = [[r] for r in records if r.partition is None]
    batched = sorted(
        (r for r in records if r.partition is not None), key=lambda r: (r.topic, r.partition)
    )
    units += [list(run) for _, run in groupby(batched, key=lambda r: (r.topic, r.partition))]
    return units


async def _stop(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError, TimeoutError):
        await asyncio.wait_for(producer.stop(), STOP_SECONDS)
