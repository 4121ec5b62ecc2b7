"""The hub worker: consume every family in batches, decide outcomes, write side outputs, commit.

The loop is plain aiokafka `getmany`, not a Faust agent: per-event stream
iteration costs more CPU than the validation itself (README, "Design"). Per batch:

1. decide every record's outcome (pelastus_hub.pipeline.batch, pure);
2. build the dead letters, feedback and changed states (pelastus_hub.pipeline.outputs, pure);
3. produce them and commit the batch's offsets in one transaction (pelastus_hub.runtime.checkpoint).

A crash anywhere replays the batch from the last committed offsets, and what the
crashed worker had produced for it is never read: each outcome is written once.
"""

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from mode import Service
from pelastus_hub.contract import topics
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.base import Family
from pelastus_hub.families.incident import NAME as INCIDENT
from pelastus_hub.families.unit_status import STATUS_CLASS
from pelastus_hub.picture.kpi import KpiBook, Windows, result_key
from pelastus_hub.picture.leadership import Leadership
from pelastus_hub.picture.snapshot import snapshot
from pelastus_hub.pipeline.batch import BatchResult, input_routes, process_batch
from pelastus_hub.pipeline.outputs import OutRecord, batch_outputs
from pelastus_hub.runtime import topic_admin
from pelastus_hub.runtime.broker_watch import BrokerWatch
from pelastus_hub.runtime.checkpoint import Checkpoint
from pelastus_hub.runtime.group_offsets import OFFSETS_TOPIC, group_partition
from pelastus_hub.runtime.metrics import HubMetrics
from pelastus_hub.runtime.retry import retrying
from pelastus_hub.settings import HubSettings
from pelastus_hub.state.store import Store, StoreContext

log = logging.getLogger(__name__)

# How long a stopping worker lets its batch in flight finish, so that its offsets commit.
STOP_GRACE_SECONDS = 20.0
# A crashed worker that has not exited by then (a client stuck stopping) is ended hard.
CRASH_EXIT_SECONDS = 15.0
EXIT_CRASHED = 70
BROKER_PROBE_SECONDS = 1.0
# A read that has made no progress this long is given up and tried again, logged.
READ_STALL_SECONDS = 30.0


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
        self.kpis = KpiBook(
            Windows(settings.kpi_time_zone),
            settings.kpi_grace_seconds,
            dict(settings.kpi_target_seconds),
        )
        context = StoreContext(is_late=self.kpis.is_late)
        self.stores: dict[str, Store[Any]] = {
            name: family.new_store(context) for name, family in families.items()
        }
        self.validator = Validator.from_settings(registry, families, settings)
        self.routes = input_routes(registry, families.values())
        self.leadership = Leadership(settings.kafka_options(), f"{settings.group_id}-snapshots")
        self.sequence = 0
        self.latest_snapshot: dict[str, Any] | None = None
        self.restored = False
        self.assigned: set[TopicPartition] = set()
        # Set by the rebalance listener: the consume loop reads the changelogs' news
        # before its next batch.
        self.catch_up_needed = False
        # Counts the rebalances: a batch fetched before one is dropped, not processed, since
        # the partitions' positions went back to their committed offsets.
        self.rebalances = 0
        self._state_positions = dict.fromkeys(self.stores, 0)
        self._kpi_position = 0
        # The reader is one consumer: its reads (changelogs, KPIs, snapshots) take turns.
        self._reader_lock = asyncio.Lock()
        # A batch (decided, written, committed) and a catch-up from the changelogs never
        # interleave: a tombstone read mid-batch would remove a state about to be written.
        self._state_lock = asyncio.Lock()
        # Snapshots are numbered and sent one at a time: the timer and a request may overlap.
        self._publish_lock = asyncio.Lock()
        self.broker = BrokerWatch(settings.kafka_options())
        # Per input partition since this worker started: records consumed (counted as
        # fetched), by outcome (counted as decided), and the next offset to read.
        self.accounting: dict[TopicPartition, Counter[str]] = {}
        self.started_at = datetime.now(UTC).isoformat()
        # Set while no batch is being processed: a stopping worker waits for it.
        self._idle = asyncio.Event()
        self._idle.set()
        self.checkpoint = Checkpoint(self._batch_producer, settings.group_id, self.broker.failed)
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: AIOKafkaConsumer | None = None
        # Reads uncommitted ends: with the reader's committed ones, tells open transactions.
        self._probe: AIOKafkaConsumer | None = None
        # This group's partition of __consumer_offsets, known once the group has a
        # coordinator (the broker creates the topic then).
        self._group_offsets: TopicPartition | None = None

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
        # A group-less reader for the compacted state topics and the snapshots; committed
        # records only, so that a fenced former leader's snapshot is never read.
        self._reader = AIOKafkaConsumer(
            **options,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Reads hop between partitions, and each hop waits for the fetch in flight;
            # the default 500 ms wait of a fetch that finds nothing would be paid per hop.
            fetch_max_wait_ms=10,
        )
        await self._retrying("starting the state reader", self._reader.start)
        self._probe = AIOKafkaConsumer(**options, enable_auto_commit=False)
        await self._retrying("starting the offsets probe", self._probe.start)
        await self._catch_up_state()
        await self._follow_kpis()
        self.latest_snapshot = await self._last_snapshot()
        self.sequence = self.latest_snapshot["sequence"] if self.latest_snapshot else 0
        self.restored = True
        restored = ", ".join(f"{len(store)} {family}" for family, store in self.stores.items())
        log.info("restored states (%s); snapshot sequence %d", restored, self.sequence)
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
        await self.leadership.stop()
        for client in (self._consumer, self._reader, self._probe):
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

    async def _catch_up_state(self) -> None:
        """Read the state changelogs from where this worker last stopped reading to their end.

        On assignment this picks up what another worker wrote for partitions that
        move here: that worker produced its changelog before committing offsets.
        Before a snapshot it brings in what every other worker wrote: the changelogs,
        keyed by entity, are where the workers' states meet (README, "Several workers").
        """
        async with self._state_lock, self._reader_lock:
            # A retry goes on from the last record read: positions move record by record.
            await self._retrying("reading the state changelogs", self._read_changelogs)

    async def _read_changelogs(self) -> None:
        for family, store in self.stores.items():
            partition = TopicPartition(topics.state_topic(family), 0)
            async for record in self._read(partition, self._state_positions[family]):
                if record.value is None:
                    store.forget(record.key.decode())
                else:
                    store.restore(self.families[family].codec.decode(record.value, record.headers))
                self._state_positions[family] = record.offset + 1

    async def _follow_kpis(self) -> None:
        """Learn of the KPI windows closed since last read, from national.kpi."""
        async with self._reader_lock:
            await self._retrying("reading national.kpi", self._read_kpis)

    async def _read_kpis(self) -> None:
        async for record in self._read(TopicPartition(topics.KPI, 0), self._kpi_position):
            if record.value is not None:
                self.kpis.record_final(orjson.loads(record.value))
            self._kpi_position = record.offset + 1

    async def _last_snapshot(self) -> dict[str, Any] | None:
        """The newest committed snapshot on national.capability, if any."""
        async with self._reader_lock:
            return await self._retrying("reading national.capability", self._read_last_snapshot)

    async def _read_last_snapshot(self) -> dict[str, Any] | None:
        last = None
        # Each snapshot is a record and a transaction marker, and aborted transactions
        # leave records no committed reader sees: look well back.
        async for record in self._read(TopicPartition(topics.CAPABILITY, 0), -256):
            last = record
        return orjson.loads(last.value) if last else None

    async def _read(self, partition: TopicPartition, start: int) -> AsyncIterator[Any]:
        """Records of one partition from start (negative: from the end) to the current end.

        Ends on the reader's position, not on offsets seen: compaction and
        retention leave gaps, and may have removed every record before the end.
        """
        assert self._reader is not None
        reader = self._reader
        reader.assign([partition])
        begin = (await reader.beginning_offsets([partition]))[partition]
        end = (await reader.end_offsets([partition]))[partition]
        first = max(begin, end + start if start < 0 else start)
        if first >= end:
            return
        reader.seek(partition, first)
        stalled_since, last = time.monotonic(), first
        while (position := await reader.position(partition)) < end:
            if position != last:
                stalled_since, last = time.monotonic(), position
            elif time.monotonic() - stalled_since > READ_STALL_SECONDS:
                # Fetches that find nothing fail silently; the caller's retry reads on
                # from the last record it took, with the ends asked anew.
                raise KafkaTimeoutError(f"reading {partition} made no progress at {position}")
            # Short: a fetch that holds only a transaction marker moves the position but
            # returns no record, and getmany would wait out its whole timeout for one.
            batch = await reader.getmany(partition, timeout_ms=20, max_records=10000)
            for record in batch.get(partition, []):
                # A position reset may rewind the reader; skip what was asked not to be read.
                if first <= record.offset < end:
                    yield record

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
                    await self._catch_up_state()
                    await self._resume_from_committed()
                    continue  # what was fetched before that is read again from there
                if batches:
                    await self.handle_batch(batches, fetched_in)
            finally:
                self._idle.set()

    @Service.task
    async def _publish_on_cadence(self) -> None:
        async for _ in self.itertimer(self.settings.snapshot_interval_seconds, name="snapshot"):
            if self.ready and await self.publish_snapshot() is None:
                await self._follow_snapshots()
            for family, store in self.stores.items():
                self.metrics.state_entities.labels(family).set(len(store))

    async def _follow_snapshots(self) -> None:
        """Not leading: serve the leader's latest snapshot and KPIs on this worker's API too,
        and learn which KPI windows have closed."""
        # The snapshot gauges are the leader's to export; a former leader's would go stale.
        self.metrics.units.clear()
        self.metrics.last_event.clear()
        await self._catch_up_state()
        await self._follow_kpis()
        latest = await self._last_snapshot()
        if latest and (
            self.latest_snapshot is None or latest["sequence"] > self.latest_snapshot["sequence"]
        ):
            self.latest_snapshot = latest
            self.sequence = latest["sequence"]

    async def _resume_from_committed(self) -> None:
        """After a rebalance, seek every assigned partition to its committed offset once no
        transaction that committed offsets of this group is without its markers (see
        pelastus_hub.runtime.group_offsets). A killed worker's open transaction holds this up until it is
        aborted: at once when the worker restarts, else after the transaction timeout."""
        consumer = self._consumer
        assert consumer is not None
        if self._group_offsets is None:
            partitions = await self._retrying(
                "reading the cluster's topics",
                lambda: topic_admin.partition_count(self.settings, OFFSETS_TOPIC),
            )
            if partitions:
                number = group_partition(self.settings.group_id, partitions)
                self._group_offsets = TopicPartition(OFFSETS_TOPIC, number)
        if self._group_offsets is not None:
            await self._wait_until_stable(self._group_offsets)
        rebalances, assigned = self.rebalances, list(consumer.assignment())
        resume: dict[TopicPartition, int | None] = {}
        for tp in assigned:
            resume[tp] = await self._retrying(
                "reading offsets",
                lambda tp=tp: asyncio.wait_for(consumer.committed(tp), READ_STALL_SECONDS),
            )
        never = [tp for tp, offset in resume.items() if offset is None]
        if never:  # never committed: from the earliest, as for a new group
            beginnings = await self._retrying(
                "reading offsets", lambda: consumer.beginning_offsets(never)
            )
            resume.update(beginnings)
        if self.rebalances != rebalances:
            return  # assigned anew meanwhile: the loop resumes again, from that assignment
        for tp, offset in resume.items():
            consumer.seek(tp, offset)

    async def _wait_until_stable(self, group: TopicPartition) -> None:
        """Until the last stable offset of the group's offsets partition reaches its end as
        it is now: every transaction open then has its markers."""
        probe, reader = self._probe, self._reader
        assert probe is not None and reader is not None
        ends = await self._retrying("reading offsets", lambda: probe.end_offsets([group]))
        deadline = time.monotonic() + self.settings.transaction_timeout_seconds + 15
        while True:
            async with self._reader_lock:
                stable = await self._retrying(
                    "reading offsets", lambda: reader.end_offsets([group])
                )
            if stable[group] >= ends[group]:
                return
            if time.monotonic() > deadline:
                log.warning("offsets still unstable after the transaction timeout; going on")
                return
            await asyncio.sleep(0.05)

    async def handle_batch(
        self, batches: dict[TopicPartition, list[Any]], fetched_in: int | None = None
    ) -> BatchResult | None:
        """Process a fetched batch; None if a rebalance came between its fetch and now: its
        partitions may be another worker's now, or be read again from their committed
        offsets here, so processing it would write its outcomes twice."""
        async with self._state_lock:
            if fetched_in is not None and fetched_in != self.rebalances:
                log.info("a batch fetched before a rebalance is dropped: it is read again")
                return None
            return await self._handle_batch(batches)

    async def _handle_batch(self, batches: dict[TopicPartition, list[Any]]) -> BatchResult:
        started = time.perf_counter()
        now = datetime.now(UTC)
        records = [record for partition_records in batches.values() for record in partition_records]
        result = process_batch(records, self.routes, self.validator, self.stores, now)
        outputs = batch_outputs(
            result.dead_letters,
            result.warnings,
            [(self.families[name], store.take_changes()) for name, store in self.stores.items()],
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

    async def publish_snapshot(self) -> dict[str, Any] | None:
        """Build, publish and remember the next capability snapshot, if this worker leads;
        None if it does not."""
        async with self._publish_lock:
            if await self.leadership.settle():
                # Fenced now, the former leader can add no snapshot after the one read here.
                latest = await self._last_snapshot()
                self.sequence = max(self.sequence, latest["sequence"] if latest else 0)
            if not self.leadership.leading:
                return None
            await self._catch_up_state()
            await self._follow_kpis()  # a former leader may have closed windows
            now = datetime.now(UTC)
            incidents = self.stores[INCIDENT].states.values()
            document = snapshot(
                {name: store.states.values() for name, store in self.stores.items()},
                self.families.values(),
                self.registry.codes,
                self.sequence + 1,
                now,
                self.settings.stale_after_seconds,
            )
            closing = self.kpis.due(incidents, self.registry.codes, now)
            records = [
                (topics.KPI, result_key(result).encode(), orjson.dumps(result))
                for result in closing
            ]
            records.append((topics.CAPABILITY, b"national", orjson.dumps(document)))
            # The snapshot and the windows closing with it are read together or not at all.
            if not await self.leadership.send(records):
                for result in closing:
                    self.kpis.forget(result)
                return None
            self.kpis.published()
            await self._retire(self.kpis.retired(incidents))
            self.metrics.kpi_windows.inc(len(closing))
            self.sequence = document["sequence"]
            self.latest_snapshot = document
        self._export_gauges(document)
        return document

    async def _retire(self, incidents: list[Any]) -> None:
        """Delete incidents no KPI or snapshot needs from the changelog (a tombstone each),
        and so from every worker's store at its next catch-up. With this worker's batch
        producer, between its batches: the snapshot's producer writes only national topics."""
        if not incidents:
            return
        topic = topics.state_topic("incident")
        async with self._state_lock:
            await self.checkpoint.commit(
                [OutRecord(topic, i.key.encode(), None) for i in incidents], {}
            )

    def kpi(self, department: str, kind: str, start: datetime | None) -> dict[str, Any] | None:
        """A window's final result if it has closed, else its result so far (not final);
        without start, the latest window of the department with any incident in it."""
        book = self.kpis
        grouped = book.group(self.stores[INCIDENT].states.values(), [department])
        if start is None:
            starts = [w.start for w, _ in grouped.values() if w.kind == kind]
            starts += [
                datetime.fromisoformat(d["window"]["start"])
                for d in book.finals.values()
                if d["department"] == department and d["window"]["kind"] == kind
            ]
            if not starts:
                return None
            start = max(starts)
        window = book.windows.named(kind, start)
        final = book.finals.get(f"{department}/{window.key}")
        if final is not None:
            return final
        members = grouped.get((department, window.key), (window, []))[1]
        return book.result(department, window, members, False, datetime.now(UTC))

    def _export_gauges(self, document: dict[str, Any]) -> None:
        metrics = self.metrics
        metrics.snapshots.inc()
        metrics.snapshot_sequence.set(document["sequence"])
        counts: Counter[tuple[str, str, str]] = Counter()
        for code, view in document["departments"].items():
            for unit_type, statuses in view["units_by_type"].items():
                for status, count in statuses.items():
                    counts[code, unit_type, STATUS_CLASS[status]] += count
            if view["last_event_time"]:
                metrics.last_event.labels(code).set(
                    datetime.fromisoformat(view["last_event_time"]).timestamp()
                )
        metrics.units.clear()
        for labels, count in counts.items():
            metrics.units.labels(*labels).set(count)


class _Assignment(ConsumerRebalanceListener):
    def __init__(self, worker: HubWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # A batch in flight commits before the partitions go: their next owner reads on
        # from its offsets, and its outputs are written once.
        async with self.worker._state_lock:
            self.worker.rebalances += 1
            self.worker.assigned.difference_update(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.worker.rebalances += 1
        self.worker.catch_up_needed = True
        self.worker.assigned.update(assigned)
