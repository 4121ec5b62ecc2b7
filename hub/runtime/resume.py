"""Where a worker resumes its partitions after a rebalance: their committed offsets, once
they are stable.

aiokafka cannot ask the broker for stable offsets (KIP-447), and an offset fetch in the
moment after a commit returned the offsets before it. So the worker waits until no
transaction that committed offsets of its group is left without its markers in the
group's partition of __consumer_offsets (pelastus_hub.runtime.group_offsets), then reads
and seeks. A killed worker's open transaction holds this up until it is aborted: at once
when that worker restarts, else after the transaction timeout.
"""

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition

from pelastus_hub.clients import KafkaClients
from pelastus_hub.runtime import topic_admin
from pelastus_hub.runtime.group_offsets import OFFSETS_TOPIC, committed_offsets, group_partition
from pelastus_hub.runtime.state_sync import READ_STALL_SECONDS, Retry, StateSync
from pelastus_hub.settings import HubSettings

log = logging.getLogger(__name__)


class Resumption:
    def __init__(
        self, settings: HubSettings, clients: KafkaClients, sync: StateSync, retry: Retry
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.sync = sync
        self.retry = retry
        # Reads uncommitted ends: with the reader's committed ones, tells open transactions.
        self.probe: AIOKafkaConsumer | None = None
        # Reads the group's committed offsets (group_offsets.committed_offsets).
        self.client: AIOKafkaClient | None = None
        # This group's partition of __consumer_offsets, known once the group has a
        # coordinator (the broker creates the topic then).
        self._group_offsets: TopicPartition | None = None

    async def start(self) -> None:
        self.probe = self.clients.consumer(enable_auto_commit=False)
        await self.retry("starting the offsets probe", self.probe.start)
        self.client = self.clients.client()
        await self.retry("starting the offsets client", self.client.bootstrap)

    async def resume(
        self, consumer: AIOKafkaConsumer, rebalances: Callable[[], int]
    ) -> dict[TopicPartition, int] | None:
        """Seek every assigned partition to its committed offset, or to its beginning if it
        was never committed, and say where; `rebalances()` tells whether the assignment
        changed meanwhile (then None, and no seek)."""
        if self._group_offsets is None:
            partitions = await self.retry(
                "reading the cluster's topics",
                lambda: topic_admin.partition_count(self.clients, OFFSETS_TOPIC),
            )
            if partitions:
                number = group_partition(self.settings.group_id, partitions)
                self._group_offsets = TopicPartition(OFFSETS_TOPIC, number)
            else:
                log.warning(
                    "%s cannot be seen (on a secured cluster the hub's user needs DESCRIBE on "
                    "it: pelastus-hub provision grants it): resuming without waiting for a "
                    "killed worker's open transaction",
                    OFFSETS_TOPIC,
                )
        if self._group_offsets is not None:
            await self._wait_until_stable(self._group_offsets)
        seen, assigned = rebalances(), list(consumer.assignment())
        client = self.client
        assert client is not None, "start() first"
        resume = await self.retry(
            "reading offsets",
            lambda: asyncio.wait_for(
                committed_offsets(client, self.settings.group_id, assigned), READ_STALL_SECONDS
            ),
        )
        never = [tp for tp, offset in resume.items() if offset is None]
        if never:  # never committed: from the earliest, as for a new group
            beginnings = await self.retry(
                "reading offsets", lambda: consumer.beginning_offsets(never)
            )
            resume.update(beginnings)
        if rebalances() != seen:
            return None  # assigned anew meanwhile: the loop resumes again, from that assignment
        seeks = {tp: offset for tp, offset in resume.items() if offset is not None}
        for tp, offset in seeks.items():
            consumer.seek(tp, offset)
        return seeks

    async def _wait_until_stable(self, group: TopicPartition) -> None:
        """Until the last stable offset of the group's offsets partition reaches its end as
        it is now: every transaction open then has its markers."""
        probe, reader = self.probe, self.sync.reader
        assert probe is not None and reader is not None
        ends = await self.retry("reading offsets", lambda: probe.end_offsets([group]))
        deadline = time.monotonic() + self.settings.transaction_timeout_seconds + 15
        while True:
            async with self.sync.reader_lock:
                stable = await self.retry("reading offsets", lambda: reader.end_offsets([group]))
            if stable[group] >= ends[group]:
                return
            if time.monotonic() > deadline:
                log.warning("offsets still unstable after the transaction timeout; going on")
                return
            await asyncio.sleep(0.05)
