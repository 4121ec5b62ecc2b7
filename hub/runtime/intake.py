"""The worker's input: the batch consumer of the departments' topics, its partitions as the
rebalances move them, and how far behind each one's processing is."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from pelastus_hub.clients import KafkaClients
from pelastus_hub.runtime.metrics import HubMetrics
from pelastus_hub.runtime.state_sync import READ_STALL_SECONDS, Retry
from pelastus_hub.settings import HubSettings

log = logging.getLogger(__name__)


class Intake(ConsumerRebalanceListener):
    """The batch consumer of the departments' topics, in the workers' group, and its input
    partitions as the rebalances move them."""

    def __init__(
        self,
        clients: KafkaClients,
        settings: HubSettings,
        lock: asyncio.Lock,
        metrics: HubMetrics,
        departments: dict[str, str],
    ) -> None:
        """`departments`: input topic -> the department whose it is."""
        self.clients = clients
        self.settings = settings
        self.metrics = metrics
        self.departments = departments
        # The worker's batch lock: a rebalance waits for the batch in flight.
        self.lock = lock
        self.consumer: AIOKafkaConsumer | None = None
        self.assigned: set[TopicPartition] = set()
        # Counts the rebalances: a batch fetched before one is dropped, not processed, since
        # the partitions' positions went back to their committed offsets.
        self.rebalances = 0
        # Set on assignment: the consume loop reads the changelogs' news before its next batch.
        self.catch_up_needed = False
        # The next offset to process of each assigned partition, once resumed there.
        self.next_offsets: dict[TopicPartition, int] = {}

    async def start(self, topics: list[str], retry: Retry) -> None:
        # Committed records only, and fetches that take the largest record the hub accepts.
        self.consumer = self.clients.consumer(
            group_id=self.settings.group_id,
            # Names the worker among the group's members (pelastus-hub group show).
            client_id=f"pelastus-hub-{self.settings.instance}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=self.settings.max_message_bytes * 2,
            fetch_max_bytes=max(52428800, self.settings.max_message_bytes * 4),
        )
        await retry("starting the input consumer", self.consumer.start)
        self.consumer.subscribe(topics=topics, listener=self)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A batch in flight commits before the partitions go: their next owner reads on
        # from its offsets, and its outputs are written once.
        async with self.lock:
            self.rebalances += 1
            self.assigned.difference_update(revoked)
            known = [tp for tp in revoked if self.next_offsets.pop(tp, None) is not None]
            self.metrics.forget_partitions(
                (tp.topic, tp.partition, self.departments[tp.topic]) for tp in known
            )

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.rebalances += 1
        self.catch_up_needed = True
        self.assigned.update(assigned)

    def processed(self, offsets: dict[TopicPartition, int]) -> None:
        """Where the partitions go on from: resumed there, or a batch committed up to there."""
        self.next_offsets.update(offsets)

    async def measure_lag(self, idle: Callable[[], bool]) -> None:
        """Each resumed partition's records not yet processed: its last stable offset, which
        the broker tells, minus the next offset to process. While `idle()` (no batch in
        flight), what the consumer has read past counts as processed too: a transaction's
        marker, which is no record for the hub."""
        consumer = self.consumer
        partitions = list(self.next_offsets)
        if consumer is None or not partitions:
            return

        async def read() -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
            ends = await consumer.end_offsets(partitions)
            read = {tp: await consumer.position(tp) for tp in partitions} if idle() else {}
            return ends, read

        try:
            ends, positions = await asyncio.wait_for(read(), READ_STALL_SECONDS)
        except (KafkaError, TimeoutError) as error:
            # The broker away, or partitions revoked meanwhile: measured again soon.
            log.debug("input lag not measured: %r", error)
            return
        lags = {}
        for tp, end in ends.items():
            done = self.next_offsets.get(tp)  # None: revoked meanwhile
            if done is not None:
                done = max(done, positions.get(tp, done))
                lags[tp.topic, tp.partition, self.departments[tp.topic]] = max(end - done, 0)
        self.metrics.record_consumer_lag(lags)
