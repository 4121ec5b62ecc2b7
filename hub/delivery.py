"""Send a batch's output records and wait for every ack, through a broker outage of any length.

The idempotent producer retries a record it has taken until the broker acks it,
so nothing taken is sent twice from here; what it has not taken (its buffer
full, or no metadata during an outage: a timeout) is offered again after a
backoff, and so is a record whose delivery failed for a reason that can pass.
Only an error that no retry can mend is raised: the worker crashes on it and
the process exits, so that an orchestrator restarts it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from hub.outputs import OutRecord
from hub.retry import is_retriable, retrying, worker_delay

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        on_failure: Callable[[BaseException], None] = lambda error: None,
    ) -> None:
        self.producer = producer
        self.on_failure = on_failure

    async def send(self, records: Sequence[OutRecord]) -> None:
        """Send all records and wait for their acks. Records with a partition (the changelogs)
        go in record batches per partition; their order within it is kept."""
        units: list[list[OutRecord]] = [[r] for r in records if r.partition is None]
        batched = sorted(
            (r for r in records if r.partition is not None),
            key=lambda r: (r.topic, r.partition),
        )
        units += [list(run) for _, run in groupby(batched, key=lambda r: (r.topic, r.partition))]
        retry = 0
        while units:
            acks = [await self._enqueue(unit) for unit in units]
            outcomes = await asyncio.gather(
                *(asyncio.gather(*a) for a in acks), return_exceptions=True
            )
            again = []
            for unit, outcome in zip(units, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    continue
                if _too_large(outcome) and unit[0].smaller is not None:
                    again.append([unit[0].smaller])  # the broker's limit is below the hub's
                elif is_retriable(outcome):
                    self.on_failure(outcome)
                    again.append(unit)
                else:
                    raise outcome
            if again:
                log.warning("%d sends failed, sending them again", len(again))
                retry += 1
                await asyncio.sleep(worker_delay(retry))
            units = again

    async def _enqueue(self, unit: list[OutRecord]) -> list[asyncio.Future[Any]]:
        """Hand a unit to the producer, retrying while it cannot take it; the acks' futures."""
        if unit[0].partition is not None:
            return await retrying(
                f"sending to {unit[0].topic}", lambda: self._send_run(unit), self.on_failure
            )
        record = unit[0]
        while True:
            try:
                return [
                    await retrying(
                        f"sending to {record.topic}", self._sender(record), self.on_failure
                    )
                ]
            except (MessageSizeTooLargeError, RecordTooLargeError):
                if record.smaller is None:
                    raise
                record = record.smaller

    def _sender(self, record: OutRecord) -> Callable[[], Awaitable[asyncio.Future[Any]]]:
        return lambda: self.producer.send(
            record.topic, record.value, record.key, headers=list(record.headers)
        )

    async def _send_run(self, run: list[OutRecord]) -> list[asyncio.Future[Any]]:
        """One partition's records in as few record batches as fit."""
        producer, first = self.producer, run[0]
        acks = []
        batch = producer.create_batch()
        for record in run:
            if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                acks.append(
                    await producer.send_batch(batch, first.topic, partition=first.partition)
                )
                batch = producer.create_batch()
                if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                    raise MessageSizeTooLargeError(
                        f"a {record.size}-byte state does not fit a batch"
                    )
        if batch.record_count():
            acks.append(await producer.send_batch(batch, first.topic, partition=first.partition))
        return acks


def _too_large(error: BaseException) -> bool:
    return isinstance(error, MessageSizeTooLargeError | RecordTooLargeError)
