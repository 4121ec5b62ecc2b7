"""The hub worker: consume every family in batches, decide outcomes, write side outputs, commit.

The loop is plain aiokafka `getmany`, not a Faust agent: per-event stream
iteration costs more CPU than the validation itself (README, "Design"). Per batch:

1. decide every record's outcome (pelastus_hub.pipeline.batch, pure);
2. build the dead letters, feedback and changed states (pelastus_hub.pipeline.outputs, pure);
3. produce them and commit the batch's offsets in one transaction (pelastus_hub.runtime.checkpoint),
   which runs on while the next batch is fetched and processed, in slices between which the
   event loop turns (pelastus_hub.runtime.state_lock).

A crash anywhere replays the batch from the last committed offsets, and what the
crashed worker had produced for it is never read: each outcome is written once.
The worker wires its parts: the input consumer and its assignment (intake), the states
and their changelogs (state_sync), where it resumes after a rebalance (resume), and the
leader's snapshot cycle (snapshots). Every Kafka client comes from one KafkaClients.
"""

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from mode import Service

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract import topics
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.base import Family
from pelastus_hub.picture.kpi import KpiBook
from pelastus_hub.picture.kpi_windows import Windows
from pelastus_hub.pipeline.batch import BatchResult, input_routes, process_batch
from pelastus_hub.pipeline.outputs import OutRecord, batch_outputs
from pelastus_hub.runtime import collector, topic_admin
from pelastus_hub.runtime.broker_watch import BrokerWatch
from pelastus_hub.runtime.checkpoint import Checkpoint
from pelastus_hub.runtime.intake import Intake
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
# How often the input partitions' lag is measured: on a timer of its own, so that it
# grows while batches do not complete.
LAG_MEASURE_SECONDS = 5.0
# Records processed between turns of the event loop: a millisecond or two of work.
PROCESS_SLICE = 100


class HubWorker(Service):
    def __init__(
        self,
        settings: HubSettings,
        registry: Registry,
        families: dict[str, Family] = FAMILIES,
        clients: KafkaClients | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.registry = registry
        self.families = families
        self.clients = clients or KafkaClients.from_settings(settings)
        self.metrics = HubMetrics(registry.codes, families.values())
        self.broker = BrokerWatch(self.clients)
        self.sync = StateSync(self.clients, families, _kpi_book(settings), self._retrying)
        self.validator = Validator.from_settings(registry, families, settings)
        self.routes = input_routes(registry, families.values())
        self.checkpoint = Checkpoint(
            self.clients, settings, self.broker.failed, _output_topics(registry, families)
        )
        self.snapshots = SnapshotCycle(
            settings, self.clients, registry.codes, self.sync, self.checkpoint, self.metrics
        )
        self.metrics.follow_leadership(lambda: self.snapshots.leadership.leading)
        self.resumption = Resumption(settings, self.clients, self.sync, self._retrying)
        departments = {topic: code for topic, (code, _) in self.routes.items()}
        self.intake = Intake(self.clients, settings, self.sync.lock, self.metrics, departments)
        self.assigned = self.intake.assigned  # the same set, kept by the rebalances
        self.restored = False
        self.accounting = Accounting()
        self.started_at = datetime.now(UTC).isoformat()
        # Set while no batch is being processed: a stopping worker waits for it.
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def ready(self) -> bool:
        """State restored, input partitions assigned, the broker answering, not crashed:
        what /readyz reports."""
        return self.restored and bool(self.assigned) and self.broker.reachable and not self.crashed

    async def on_start(self) -> None:
        await self.broker.probe()
        created = await self._retrying(
            "creating the hub's topics",
            lambda: topic_admin.create_hub_topics(
                self.settings, self.registry.codes, self.families, self.clients
            ),
        )
        if created:
            log.info("created %d topics", len(created))
        await self.checkpoint.start()
        await self.sync.start()
        await self.resumption.start()
        await self.sync.catch_up()
        await self.sync.follow_kpis()
        await self.snapshots.restore()
        self.restored = True
        restored = ", ".join(f"{len(store)} {name}" for name, store in self.sync.stores.items())
        log.info("restored states (%s); snapshot sequence %d", restored, self.snapshots.sequence)
        await self.intake.start(list(self.routes), self._retrying)
        collector.settle()

    async def on_stop(self) -> None:
        # Runs before the service's tasks are cancelled: a batch in flight finishes and
        # commits, unless the broker is away too long (then its records are read again).
        try:
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("stopping with a batch unfinished: it is processed again on restart")

    async def on_shutdown(self) -> None:
        await self.snapshots.leadership.stop()
        for client in (self.intake.consumer, self.sync.reader, self.resumption.probe):
            if client is not None:
                await client.stop()
        if self.resumption.client is not None:
            await self.resumption.client.close()
        await self.checkpoint.stop()
        await self.broker.close()

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
    async def _measure_lag(self) -> None:
        while not self.should_stop:
            await self.sleep(LAG_MEASURE_SECONDS)
            if self.intake.consumer is not None:
                await self.intake.measure_lag(self._idle.is_set)

    @Service.task
    async def _consume(self) -> None:
        try:
            await self._consume_batches()
        finally:
            # Set while no batch is in flight: also when one failed, so that a crashing
            # worker does not wait for it.
            self._idle.set()

    async def _consume_batches(self) -> None:
        intake, consumer = self.intake, self.intake.consumer
        assert consumer is not None  # tasks start after on_start
        while not self.should_stop:
            batches = await consumer.getmany(
                timeout_ms=200, max_records=self.settings.batch_max_records
            )
            fetched_in = intake.rebalances
            self._idle.clear()
            # Records of newly assigned partitions come only after the rebalance that set
            # the flag, so they always meet the caught-up state.
            if intake.catch_up_needed:
                intake.catch_up_needed = False
                await self.sync.catch_up()
                seeks = await self.resumption.resume(consumer, lambda: intake.rebalances)
                intake.processed(seeks or {})
                continue  # what was fetched before that is read again from there
            if batches:
                # Its transaction runs on while the next batch is fetched and processed.
                await self.handle_batch(batches, fetched_in)
            else:
                await self.sync.lock.committed()
                self._idle.set()
        await self.sync.lock.committed()

    @Service.task
    async def _publish_on_change(self) -> None:
        """The leader's snapshot soon after a change, spaced: its own batches say so at once;
        other workers' changes show as news on the changelogs, looked for as often."""
        spacing = self.settings.snapshot_min_spacing_seconds
        cycle = self.snapshots
        while spacing > 0 and not self.should_stop:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cycle.changed.wait(), spacing)
            # Assigned the lead: publish() takes it up, as on the cadence.
            if not (self.ready and cycle.leadership.assigned):
                cycle.changed.clear()  # a follower's changes reach the leader on its changelog
                continue
            try:
                due = cycle.changed.is_set() or await self.sync.changelogs_moved()
            except (KafkaError, TimeoutError) as error:
                log.debug("changelog ends not read: %r", error)  # the cadence still publishes
                continue
            if due:
                await cycle.publish_spaced(spacing)

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
        """Process a fetched batch and start its transaction, once the previous batch's has
        committed (sync.lock.committed() waits for this one's); None if a rebalance came
        between its fetch and now: its partitions may be another worker's now, or be read
        again from their committed offsets here, so processing it would write its
        outcomes twice."""
        lock = self.sync.lock
        async with lock.processing():
            if fetched_in is not None and fetched_in != self.intake.rebalances:
                log.info("a batch fetched before a rebalance is dropped: it is read again")
                return None
            started, now = time.perf_counter(), datetime.now(UTC)
            records = [record for part in batches.values() for record in part]
            stores = self.sync.stores
            result = BatchResult()
            for first in range(0, len(records), PROCESS_SLICE):
                part = records[first : first + PROCESS_SLICE]
                process_batch(part, self.routes, self.validator, stores, now, into=result)
                # The last batch's transaction and the next fetches make progress only when
                # the loop turns: between slices, not for the whole batch's processing.
                await asyncio.sleep(0)
            changes = [(self.families[n], store.take_changes()) for n, store in stores.items()]
            if any(changed for _, changed in changes):
                self.snapshots.changed.set()
            limit = self.settings.max_message_bytes
            outputs = batch_outputs(result.dead_letters, result.warnings, changes, limit, now)
            offsets = {tp: part[-1].offset + 1 for tp, part in batches.items() if part}
            # One producer, one transaction at a time.
            await lock.committed()
            lock.commit(self.finish_batch(batches, result, outputs, offsets, started))
            return result

    async def finish_batch(
        self,
        batches: dict[TopicPartition, list[Any]],
        result: BatchResult,
        outputs: list[OutRecord],
        offsets: dict[TopicPartition, int],
        started: float,
    ) -> None:
        """A processed batch's transaction, and the counts once it has committed."""
        self.sync.wrote(await self.checkpoint.commit(outputs, offsets))
        self.accounting.count(batches, result)
        self.metrics.record_batch(result, time.perf_counter() - started)
        self.intake.processed(offsets)


class Accounting(dict[TopicPartition, Counter[str]]):
    """Per input partition since this worker started: records consumed (counted as fetched),
    by outcome (counted as decided), and the next offset to read."""

    def count(self, batches: dict[TopicPartition, list[Any]], result: BatchResult) -> None:
        for tp, part in batches.items():
            counts = self.setdefault(tp, Counter())
            counts["consumed"] += len(part)
            counts["next_offset"] = part[-1].offset + 1
        for (topic, partition), outcomes in result.by_partition.items():
            self.setdefault(TopicPartition(topic, partition), Counter()).update(outcomes)


def _kpi_book(settings: HubSettings) -> KpiBook:
    return KpiBook(
        Windows(settings.kpi_time_zone),
        settings.kpi_grace_seconds,
        dict(settings.kpi_target_seconds),
    )


def _output_topics(registry: Registry, families: dict[str, Family]) -> list[str]:
    """What a batch may write to: dead letters, each department's feedback, the changelogs."""
    return [
        topics.DEAD_LETTER,
        *(topics.feedback_topic(code) for code in registry.codes),
        *(topics.state_topic(name) for name in families),
    ]
