"""The hub worker: consume every family in batches, decide outcomes, write side outputs, commit.

The loop is plain aiokafka `getmany`, not a Faust agent: per-event stream
iteration costs more CPU than the validation itself (README, "Design"). Per batch:

1. decide every record's outcome (pelastus_hub.pipeline.batch, pure);
2. build the dead letters, feedback and changed states (pelastus_hub.pipeline.outputs, pure);
3. produce them and commit the batch's offsets in one transaction (pelastus_hub.runtime.checkpoint).

A crash anywhere replays the batch from the last committed offsets, and what the
crashed worker had produced for it is never read: each outcome is written once.
The worker wires its parts: the states and their changelogs (state_sync), where it
resumes after a rebalance (resume), and the leader's snapshot cycle (snapshots).
"""

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from mode import Service

from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.base import Family
from pelastus_hub.picture.kpi import KpiBook, Windows
from pelastus_hub.pipeline.batch import BatchResult, input_routes, process_batch
from pelastus_hub.pipeline.outputs import batch_outputs
from pelastus_hub.runtime import topic_admin
from pelastus_hub.runtime.broker_watch import BrokerWatch
from pelastus_hub.runtime.checkpoint import Checkpoint
from pelastus_hub.runtime.metrics import HubMetrics
from pelastus_hub.runtime.resume import Resumption
from pelastus_hub.runtime.retry import retrying
from pelastus_hub.runtime.snapshots import SnapshotCycle
from pelastus_hub.runtime.state_sync import StateSync
from pelastus_hub.settings import HubSettings

log = logging.getLogger(__name__)

# How long a stopping worker lets its batch in flight finish, so that its offsets commit.
STOP_GRACE_SECONDS = 20.0
# A crashed worker that has not exited by then (a client stuck stopping) is ended hard.
CRASH_EXIT_SECONDS = 15.0
EXIT_CRASHED = 70
BROKER_PROBE_SECONDS = 1.0


class HubWorker(Service):
    def __init__(
        self,
        settings: HubSettings,
        registry: Registry,
        families: dict[str, Family] = FAMILIES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.registry = registry
        self.families = families
        self.metrics = HubMetrics()
        self.broker = BrokerWatch(settings.kafka_options())
        kpis = KpiBook(
            Windows(settings.kpi_time_zone),
            settings.kpi_grace_seconds,
            dict(settings.kpi_target_seconds),
        )
        self.sync = StateSync(families, kpis, self._retrying)
        self.validator = Validator.from_settings(registry, families, settings)
        self.routes = input_routes(registry, families.values())
        self.checkpoint = Checkpoint(self._batch_producer, settings.group_id, self.broker.failed)
        self.snapshots = SnapshotCycle(
            settings, registry.codes, families, self.sync, self.checkpoint, self.metrics
        )
        self.resumption = Resumption(settings, self.sync, self._retrying)
        self.restored = False
        self.assigned: set[TopicPartition] = set()
        # Set by the rebalance listener: the consume loop reads the changelogs' news
        # before its next batch.
        self.catch_up_needed = False
        # Counts the rebalances: a batch fetched before one is dropped, not processed, since
        # the partitions' positions went back to their committed offsets.
        self.rebalances = 0
        # Per input partition since this worker started: records consumed (counted as
        # fetched), by outcome (counted as decided), and the next offset to read.
        self.accounting: dict[TopicPartition, Counter[str]] = {}
        self.started_at = datetime.now(UTC).isoformat()
        # Set while no batch is being processed: a stopping worker waits for it.
        self._idle = asyncio.Event()
        self._idle.set()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def ready(self) -> bool:
        """State restored, input partitions assigned, the broker answering, not crashed:
        what /readyz reports."""
        return self.restored and bool(self.assigned) and self.broker.reachable and not self.crashed

    async def on_start(self) -> None:
        options = self.settings.kafka_options()
        await self.broker.probe()
        created = await self._retrying(
            "creating the hub's topics",
            lambda: topic_admin.create_hub_topics(
                self.settings, self.registry.codes, self.families
            ),
        )
        if created:
            log.info("created %d topics", len(created))
        await self.checkpoint.start()
        self.sync.reader = AIOKafkaConsumer(
            **options,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Reads hop between partitions, and each hop waits for the fetch in flight;
            # the default 500 ms wait of a fetch that finds nothing would be paid per hop.
            fetch_max_wait_ms=10,
        )
        await self._retrying("starting the state reader", self.sync.reader.start)
        self.resumption.probe = AIOKafkaConsumer(**options, enable_auto_commit=False)
        await self._retrying("starting the offsets probe", self.resumption.probe.start)
        await self.sync.catch_up()
        await self.sync.follow_kpis()
        await self.snapshots.restore()
        self.restored = True
        restored = ", ".join(f"{len(store)} {name}" for name, store in self.sync.stores.items())
        log.info("restored states (%s); snapshot sequence %d", restored, self.snapshots.sequence)
        self._consumer = AIOKafkaConsumer(
            **options,
            group_id=self.settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=self.settings.max_message_bytes * 2,
            fetch_max_bytes=max(52428800, self.settings.max_message_bytes * 4),
        )
        await self._retrying("starting the input consumer", self._consumer.start)
        self._consumer.subscribe(topics=list(self.routes), listener=_Assignment(self))

    async def on_stop(self) -> None:
        # Runs before the service's tasks are cancelled: a batch in flight finishes and
        # commits, unless the broker is away too long (then its records are read again).
        try:
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("stopping with a batch unfinished: it is processed again on restart")

    async def on_shutdown(self) -> None:
        await self.snapshots.leadership.stop()
        for client in (self._consumer, self.sync.reader, self.resumption.probe):
            if client is not None:
                await client.stop()
        await self.checkpoint.stop()
        await self.broker.close()

    def _batch_producer(self) -> AIOKafkaProducer:
        settings = self.settings
        return AIOKafkaProducer(
            **settings.kafka_options(),
            # This worker's own: a restarted worker with the same id aborts at once what
            # its former run left open, and fences that run should it still be alive.
            transactional_id=f"{settings.group_id}-batches-{settings.instance}",
            transaction_timeout_ms=int(settings.transaction_timeout_seconds * 1000),
            linger_ms=2,
            # What the hub writes is kept within the message limit (pelastus_hub.pipeline.outputs).
            max_request_size=settings.max_record_bytes,
        )

    async def crash(self, reason: BaseException) -> None:
        """Only what no retry mends gets here. The process must end, non-zero, so that an
        orchestrator restarts it; clients stuck stopping must not keep it up."""
        log.critical("the worker crashed and cannot recover: %r; exiting", reason)
        timer = threading.Timer(CRASH_EXIT_SECONDS, os._exit, (EXIT_CRASHED,))
        timer.daemon = True
        timer.start()
        await super().crash(reason)

    async def _retrying(self, what: str, operation: Any) -> Any:
        return await retrying(what, operation, self.broker.failed)

    @Service.task
    async def _watch_broker(self) -> None:
        while not self.should_stop:
            await self.broker.probe()
            await self.sleep(BROKER_PROBE_SECONDS)

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None  # tasks start after on_start
        while not self.should_stop:
            batches = await consumer.getmany(
                timeout_ms=200, max_records=self.settings.batch_max_records
            )
            fetched_in = self.rebalances
            self._idle.clear()
            try:
                # Records of newly assigned partitions come only after the rebalance
                # that set the flag, so they always meet the caught-up state.
                if self.catch_up_needed:
                    self.catch_up_needed = False
                    await self.sync.catch_up()
                    await self.resumption.resume(consumer, lambda: self.rebalances)
                    continue  # what was fetched before that is read again from there
                if batches:
                    await self.handle_batch(batches, fetched_in)
            finally:
                self._idle.set()

    @Service.task
    async def _publish_on_cadence(self) -> None:
        async for _ in self.itertimer(self.settings.snapshot_interval_seconds, name="snapshot"):
            if self.ready and await self.snapshots.publish() is None:
                await self.snapshots.follow()
            for name, store in self.sync.stores.items():
                self.metrics.state_entities.labels(name).set(len(store))

    async def handle_batch(
        self, batches: dict[TopicPartition, list[Any]], fetched_in: int | None = None
    ) -> BatchResult | None:
        """Process a fetched batch; None if a rebalance came between its fetch and now: its
        partitions may be another worker's now, or be read again from their committed
        offsets here, so processing it would write its outcomes twice."""
        async with self.sync.lock:
            if fetched_in is not None and fetched_in != self.rebalances:
                log.info("a batch fetched before a rebalance is dropped: it is read again")
                return None
            return await self._handle_batch(batches)

    async def _handle_batch(self, batches: dict[TopicPartition, list[Any]]) -> BatchResult:
        started = time.perf_counter()
        now = datetime.now(UTC)
        records = [record for partition_records in batches.values() for record in partition_records]
        stores = self.sync.stores
        result = process_batch(records, self.routes, self.validator, stores, now)
        outputs = batch_outputs(
            result.dead_letters,
            result.warnings,
            [(self.families[name], store.take_changes()) for name, store in stores.items()],
            self.settings.max_message_bytes,
            now,
        )
        offsets = {tp: part[-1].offset + 1 for tp, part in batches.items() if part}
        await self.checkpoint.commit(outputs, offsets)
        for tp, part in batches.items():
            counts = self.accounting.setdefault(tp, Counter())
            counts["consumed"] += len(part)
            counts["next_offset"] = part[-1].offset + 1
        for (topic, partition), outcomes in result.by_partition.items():
            self.accounting.setdefault(TopicPartition(topic, partition), Counter()).update(outcomes)
        self.metrics.record_batch(result, now, time.perf_counter() - started)
        return result


class _Assignment(ConsumerRebalanceListener):
    def __init__(self, worker: HubWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A batch in flight commits before the partitions go: their next owner reads on
        # from its offsets, and its outputs are written once.
        async with self.worker.sync.lock:
            self.worker.rebalances += 1
            self.worker.assigned.difference_update(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.rebalances += 1
        self.worker.catch_up_needed = True
        self.worker.assigned.update(assigned)
