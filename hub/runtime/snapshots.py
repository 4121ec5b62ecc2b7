"""The leader's cycle: the capability snapshot and the KPI windows closing with it, published
together in one transaction; a worker not leading follows the leader's instead."""

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract import topics
from pelastus_hub.families.incident import NAME as INCIDENT
from pelastus_hub.picture.kpi import KpiResult, NoResult
from pelastus_hub.picture.leadership import Leadership
from pelastus_hub.picture.snapshot import Snapshot, encode, snapshot
from pelastus_hub.pipeline.outputs import OutRecord
from pelastus_hub.runtime.checkpoint import Checkpoint
from pelastus_hub.runtime.metrics import HubMetrics
from pelastus_hub.runtime.state_sync import StateSync
from pelastus_hub.runtime.topic_admin import KPI_RETENTION_MS
from pelastus_hub.settings import HubSettings


@dataclass(frozen=True, slots=True)
class Published:
    """A snapshot as national.capability holds it: this worker's or the leader's."""

    sequence: int
    body: bytes

    @classmethod
    def read(cls, body: bytes) -> "Published":
        return cls(orjson.loads(body)["sequence"], body)


class SnapshotCycle:
    def __init__(
        self,
        settings: HubSettings,
        clients: KafkaClients,
        departments: frozenset[str],
        sync: StateSync,
        checkpoint: Checkpoint,
        metrics: HubMetrics,
    ) -> None:
        self.settings = settings
        self.departments = departments
        self.families = sync.families
        self.sync = sync
        self.checkpoint = checkpoint
        self.metrics = metrics
        self.leadership = Leadership(clients, f"{settings.group_id}-snapshots")
        self.sequence = 0
        self.latest: Published | None = None
        # Snapshots are numbered and sent one at a time: the timer and a request may overlap.
        self._lock = asyncio.Lock()
        # Set by this worker's batches that changed a state: a snapshot is due soon.
        self.changed = asyncio.Event()
        # time.monotonic() when the latest snapshot published began to read the states.
        self._published_at = float("-inf")

    async def restore(self) -> None:
        """Number on from the newest snapshot published, and serve it until the next."""
        body = await self.sync.last_snapshot()
        self.latest = Published.read(body) if body else None
        self.sequence = self.latest.sequence if self.latest else 0

    async def publish(self) -> Snapshot | None:
        """Build, publish and remember the next capability snapshot, if this worker leads;
        None if it does not."""
        sync, kpis = self.sync, self.sync.kpis
        async with self._lock:
            if await self.leadership.settle():
                # Fenced now, the former leader can add no snapshot after the one read here.
                body = await sync.last_snapshot()
                self.sequence = max(self.sequence, Published.read(body).sequence if body else 0)
            if not self.leadership.leading:
                return None
            # The spacing counts from here, where this snapshot starts to read the states.
            begun = time.monotonic()
            await sync.catch_up(beside_transaction=True)
            await sync.follow_kpis()  # a former leader may have closed windows
            # The states between batches: a batch is processed in slices, the loop turning
            # between them.
            async with sync.lock.processing():
                now = datetime.now(UTC)
                incidents = sync.stores[INCIDENT].states.values()
                built = snapshot(
                    {name: store.states.values() for name, store in sync.stores.items()},
                    self.families.values(),
                    self.departments,
                    self.sequence + 1,
                    now,
                    self.settings.stale_after_seconds,
                )
                closing = kpis.due(incidents, self.departments, now)
            records = [(topics.KPI, r.key.encode(), orjson.dumps(r)) for r in closing]
            body = encode(built)
            records.append((topics.CAPABILITY, b"national", body))
            # The snapshot and the windows closing with it are read together or not at all.
            if not await self.leadership.send(records):
                for result in closing:
                    kpis.forget(result)
                return None
            kpis.published()
            self._published_at = begun
            await self._retire(kpis.retired(incidents))
            self.metrics.kpi_windows.inc(len(closing))
            self.sequence = built.sequence
            self.latest = Published(built.sequence, body)
        self.metrics.export_snapshot(built)
        return built

    async def publish_spaced(self, spacing: float) -> Snapshot | None:
        """publish(), once `spacing` seconds have passed since the latest one began: what
        changes meanwhile goes into the same snapshot."""
        wait = self._published_at + spacing - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        # Cleared before the states are read: a change from now on asks for the next one.
        self.changed.clear()
        return await self.publish()

    async def follow(self) -> None:
        """Not leading: serve the leader's latest snapshot and KPIs on this worker's API too,
        and learn which KPI windows have closed."""
        # A former leader's snapshot gauges would go stale beside the leader's.
        self.metrics.forget_snapshot()
        await self.sync.catch_up()
        await self.sync.follow_kpis()
        body = await self.sync.last_snapshot()
        latest = Published.read(body) if body else None
        if latest and (self.latest is None or latest.sequence > self.latest.sequence):
            self.latest = latest
            self.sequence = latest.sequence

    async def _retire(self, incidents: list[Any]) -> None:
        """Delete incidents no KPI or snapshot needs: from this worker's store at once, and
        from the changelog (a tombstone each), so from every other worker's store at its
        next catch-up. With this worker's batch producer, between its batches: the
        snapshot's producer writes only national topics."""
        if not incidents:
            return
        topic = topics.state_topic(INCIDENT)
        async with self.sync.lock:
            store = self.sync.stores[INCIDENT]
            for incident in incidents:
                store.forget(incident.key)
            written = await self.checkpoint.commit(
                # In record batches (partition 0, the changelog's only one), which the
                # catch-up knows as this worker's own and passes by.
                [OutRecord(topic, i.key.encode(), None, partition=0) for i in incidents],
                {},
            )
            self.sync.wrote(written)

    def kpi(
        self, department: str, kind: str, start: datetime | None
    ) -> KpiResult | NoResult | None:
        """A window's final result if it has one, why it has none if its time is over
        without one, else its result so far (not final); without start, the latest window
        of the department with any incident or final result in it (None: there is none)."""
        incidents = self.sync.stores[INCIDENT].states.values()
        kept = timedelta(milliseconds=KPI_RETENTION_MS)
        return self.sync.kpis.query(incidents, department, kind, start, datetime.now(UTC), kept)
