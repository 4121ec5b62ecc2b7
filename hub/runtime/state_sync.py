"""The worker's states and what it reads of the hub's compacted topics: the state changelogs,
the closed KPI windows and the latest snapshot, with one group-less reader.

The changelogs, keyed by entity, are where the workers' states meet (README, "Several
workers"): on assignment a worker reads what another wrote for the partitions that move
to it (that worker produced its changelog before committing offsets), and before a
snapshot the leader reads what every other worker wrote.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract import topics
from pelastus_hub.families.base import Family
from pelastus_hub.picture.kpi import KpiBook, read_result
from pelastus_hub.runtime.checkpoint import Written
from pelastus_hub.runtime.state_lock import StateLock
from pelastus_hub.state.store import Store, StoreContext

T = TypeVar("T")
Retry = Callable[[str, Callable[[], Awaitable[T]]], Awaitable[T]]

# A read that has made no progress this long is given up and tried again, logged.
READ_STALL_SECONDS = 30.0


class StateSync:
    def __init__(
        self, clients: KafkaClients, families: Mapping[str, Family], kpis: KpiBook, retry: Retry
    ) -> None:
        self.clients = clients
        self.families = families
        self.kpis = kpis
        context = StoreContext(is_late=kpis.is_late)
        self.stores: dict[str, Store[Any]] = {
            name: family.new_store(context) for name, family in families.items()
        }
        # Group-less, committed records only (a fenced former leader's snapshot is never
        # read); made when the worker starts, as Kafka clients need the running loop.
        self.reader: AIOKafkaConsumer | None = None
        self.retry = retry
        # A batch being decided and a catch-up from the changelogs never interleave: a
        # tombstone read mid-batch would remove a state about to be written (catch_up()).
        self.lock = StateLock()
        # The reader is one consumer: its reads (changelogs, KPIs, snapshots) take turns.
        self.reader_lock = asyncio.Lock()
        # Where the next read of each changelog, and of national.kpi, begins.
        self._changelog_positions = {
            TopicPartition(topics.state_topic(name), 0): 0 for name in families
        }
        self._kpi_positions = {TopicPartition(topics.KPI, 0): 0}
        # Offset ranges [first, end) of each changelog that this worker wrote, not yet read.
        self._own: dict[str, deque[tuple[int, int]]] = {name: deque() for name in families}
        self._family_of = {topics.state_topic(name): name for name in families}

    async def start(self) -> None:
        self.reader = self.clients.consumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # Reads hop between partitions, and each hop waits for the fetch in flight;
            # the default 500 ms wait of a fetch that finds nothing would be paid per hop.
            fetch_max_wait_ms=10,
        )
        await self.retry("starting the state reader", self.reader.start)

    async def catch_up(self, beside_transaction: bool = False) -> None:
        """Read the state changelogs from where this worker last stopped reading to their end.

        Never while a batch is decided. `beside_transaction` (a snapshot's catch-up) lets it
        run while the last batch's transaction commits rather than hold the next batch
        until then: committed records are all it reads, and a changelog's committed records
        end before that transaction's first. The worker's own catch-ups, at start and on
        assignment, wait for it, as resuming reads the offsets it commits."""
        lock = self.lock.processing() if beside_transaction else self.lock
        async with lock, self.reader_lock:
            # A retry goes on from the last record read: positions move record by record.
            await self.retry("reading the state changelogs", self._read_changelogs)

    async def changelogs_moved(self) -> bool:
        """Whether a state changelog has records this worker has not read: a change another
        worker made (or this one, not yet read back)."""
        reader = self.reader
        assert reader is not None, "the worker starts the reader first"
        async with self.reader_lock:
            ends = await asyncio.wait_for(
                reader.end_offsets(list(self._changelog_positions)), READ_STALL_SECONDS
            )
        return any(ends[tp] > position for tp, position in self._changelog_positions.items())

    def wrote(self, batches: Iterable[Written]) -> None:
        """Record batches this worker's transactions wrote to the changelogs: its stores
        hold what they say already, so catching up passes them by."""
        for batch in batches:
            name = self._family_of.get(batch.partition.topic)
            if name is not None:
                self._own[name].append((batch.first, batch.first + batch.count))

    async def _read_changelogs(self) -> None:
        # All changelogs in one read: one request for their ends, fetches that take them all.
        async for record in self.read(self._changelog_positions, self._past_own):
            name = self._family_of[record.topic]
            if record.value is None:
                self.stores[name].forget(record.key.decode())
            else:
                codec = self.families[name].codec
                self.stores[name].restore(codec.decode(record.value, record.headers))

    def _past_own(self, partition: TopicPartition, offset: int) -> int:
        """Where a changelog's records from `offset` on stop being this worker's own: offset
        itself if that one is not. Restoring its own would change nothing: a store keeps
        the newest state, or merges, and this worker's retired incidents left its store at
        once."""
        own = self._own[self._family_of[partition.topic]]
        while own and own[0][1] <= offset:
            own.popleft()  # passed
        for first, end in own:  # a transaction's batches may follow each other
            if first > offset:
                break
            offset = end
        return offset

    async def follow_kpis(self) -> None:
        """Learn of the KPI windows closed since last read, from national.kpi."""
        async with self.reader_lock:
            await self.retry("reading national.kpi", self._read_kpis)

    async def _read_kpis(self) -> None:
        async for record in self.read(self._kpi_positions):
            if record.value is not None:
                self.kpis.record_final(read_result(record.value))

    async def last_snapshot(self) -> bytes | None:
        """The newest committed snapshot on national.capability, as it was written; None if
        there is none."""
        async with self.reader_lock:
            return await self.retry("reading national.capability", self._read_last_snapshot)

    async def _read_last_snapshot(self) -> bytes | None:
        last = None
        # Each snapshot is a record and a transaction marker, and aborted transactions
        # leave records no committed reader sees: look well back.
        async for record in self.read({TopicPartition(topics.CAPABILITY, 0): -256}):
            last = record
        return last.value if last else None

    async def read(
        self,
        positions: dict[TopicPartition, int],
        skip: Callable[[TopicPartition, int], int] | None = None,
    ) -> AsyncIterator[Any]:
        """Records of the partitions, each from its position (negative: from its end) to its
        current end, in each partition's order. `positions` moves on as records are taken,
        past transaction markers too: to where the next read begins. `skip(partition,
        offset)` tells where to go on from an offset, past records the caller needs not
        read (the offset itself, if none): they are not fetched, or not yielded if they
        came in one fetch with others.

        Ends on the reader's positions, not on offsets seen: compaction and
        retention leave gaps, and may have removed every record before the end.
        """
        reader = self.reader
        assert reader is not None, "the worker starts the reader first"
        reader.assign(list(positions))
        # Before anything is awaited: a partition with no position is fetched from its
        # beginning. One deleted by retention since resets there (auto_offset_reset).
        for partition, start in positions.items():
            if start >= 0:
                reader.seek(partition, start)
        ends = await reader.end_offsets(list(positions))
        bounds = {}
        for partition, start in positions.items():
            if start < 0:
                begin = (await reader.beginning_offsets([partition]))[partition]
                positions[partition] = max(begin, ends[partition] + start)
                reader.seek(partition, positions[partition])
            if positions[partition] < ends[partition]:
                bounds[partition] = (positions[partition], ends[partition])
        stalled_since, last = time.monotonic(), None
        while True:
            # Every record before the reader's position is taken by now: beyond the last one
            # taken, what it has passed are transaction markers and gaps.
            for tp, (_, end) in bounds.items():
                at = min(await reader.position(tp), end)
                if skip is not None and (onward := min(skip(tp, at), end)) > at:
                    reader.seek(tp, onward)
                    at = onward
                positions[tp] = max(positions[tp], at)
            pending = [tp for tp, (_, end) in bounds.items() if positions[tp] < end]
            if not pending:
                return
            if positions != last:
                stalled_since, last = time.monotonic(), dict(positions)
            elif time.monotonic() - stalled_since > READ_STALL_SECONDS:
                # Fetches that find nothing fail silently; the caller's retry reads on
                # from the last record it took, with the ends asked anew.
                raise KafkaTimeoutError(f"reading {pending} made no progress at {positions}")
            # Short: a fetch that holds only a transaction marker moves the position but
            # returns no record, and getmany would wait out its whole timeout for one.
            batch = await reader.getmany(*pending, timeout_ms=20, max_records=10000)
            for partition, records in batch.items():
                first, end = bounds[partition]
                for record in records:
                    offset = record.offset
                    # A position reset may rewind the reader: only what was asked for.
                    if first <= offset < end and (
                        skip is None or skip(partition, offset) == offset
                    ):
                        yield record
                        positions[partition] = offset + 1
