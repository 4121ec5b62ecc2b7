"""Which worker publishes the snapshots: one, however many run.

The worker that the Faust runtime group assigns the single partition of
hub.snapshot-requests leads (a partition has one owner in a group). It publishes
with a transactional producer whose id all workers share: starting it fences the
producer of any former leader, so a worker that has lost the lead but not yet
heard of it cannot publish another snapshot. Readers read committed records only.
"""

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerFenced

from pelastus_hub.clients import KafkaClients

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, clients: KafkaClients, transactional_id: str) -> None:
        self.clients = clients
        self.transactional_id = transactional_id
        # Set by the runtime group's rebalances; acted on by settle().
        self.assigned = False
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def leading(self) -> bool:
        return self._producer is not None

    async def settle(self) -> bool:
        """Take up or give up the lead as the assignment says; True if just taken up."""
        async with self._lock:
            if self.assigned and self._producer is None:
                producer = self.clients.producer(transactional_id=self.transactional_id)
                try:
                    await producer.start()  # fences any former leader's producer
                except KafkaError as error:
                    await producer.stop()
                    log.warning("could not take up the lead, trying again: %s", error)
                    return False
                self._producer = producer
                log.info("leading: this worker publishes the snapshots")
                return True
            if not self.assigned and self._producer is not None:
                await self._step_down("the lead moved to another worker")
            return False

    async def send(self, records: list[tuple[str, bytes, bytes]]) -> bool:
        """Publish (topic, key, value) records in one transaction: all or none are read.
        False if that failed: fenced (led elsewhere now) or an error (retried next tick)."""
        async with self._lock:
            producer = self._producer
            if producer is None:
                return False
            try:
                async with producer.transaction():
                    sent = [await producer.send(t, value=v, key=k) for t, k, v in records]
                    for delivery in sent:
                        await delivery
            except ProducerFenced:
                # Led elsewhere now: not again until the group assigns the lead here anew.
                self.assigned = False
                await self._step_down("fenced: another worker leads now")
                return False
            except KafkaError as error:
                # Still assigned: the next tick starts a new producer (aborting what is open).
                await self._step_down(f"publishing failed, trying again: {error}")
                return False
            return True

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._step_down("stopping")

    async def _step_down(self, why: str) -> None:
        producer, self._producer = self._producer, None
        log.info("no longer leading: %s", why)
        # A fenced producer's open transaction is the new leader's to abort.
        with contextlib.suppress(ProducerFenced):
            await producer.stop()  # type: ignore[union-attr]
