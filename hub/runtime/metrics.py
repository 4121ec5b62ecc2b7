"""Prometheus metrics of one worker, in a registry of its own.

Names follow Prometheus conventions: prefix pelastus_hub_, base units, counters
ending in _total. Every label value comes from a closed set (registry
departments, families, outcomes, reason and warning codes, unit types, status classes,
the worker's input partitions). Beside them, prometheus_client's process and Python
collectors (process_*, python_*); counters and histograms have no _created series.
"""

import collections
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from pelastus_hub.contract.reasons import SECURITY_REASONS
from pelastus_hub.families.unit_status import NAME as UNIT_STATUS
from pelastus_hub.families.unit_status import STATUS_CLASS
from pelastus_hub.picture.snapshot import Snapshot
from pelastus_hub.pipeline.batch import BatchResult

BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def version() -> str:
    """The installed distribution's version, as pelastus_hub.__version__ reads it (a runtime
    module does not import the package's __init__)."""
    try:
        return metadata.version("pelastus-hub")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class HubMetrics:
    def __init__(self, departments: Iterable[str] = ()) -> None:
        """`departments`: the registry's codes, whose security event series start at 0."""
        # A _created series beside every counter and histogram doubles them for nothing
        # Prometheus uses. The switch is prometheus_client's, for the whole process: the
        # worker serves no other registry.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Memory, CPU, open files and start time (Linux), the Python version, and the GC.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Gauge(
            "pelastus_hub_build_info",
            "Always 1: the installed pelastus-hub version as a label.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(version()).set(1)
        self.leader = Gauge(
            "pelastus_hub_leader",
            "1 on the worker that leads (publishes the snapshots), 0 on the others.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "pelastus_hub_consumer_lag_records",
            "Records of the input partition after the next offset this worker reads, to the "
            "partition's high watermark known from its latest fetch; as of the latest batch "
            "with records of it. Only partitions assigned to this worker.",
            ["topic", "partition"],
            registry=r,
        )
        self.records = Counter(
            "pelastus_hub_records_total",
            "Consumed input records by outcome: accepted, duplicate, stale or dead_lettered.",
            ["department", "family", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "pelastus_hub_dead_letters_total",
            "Records sent to the dead-letter topic, by reason code.",
            ["department", "reason"],
            registry=r,
        )
        self.security_events = Counter(
            "pelastus_hub_security_events_total",
            "Dead letters by which a department wrote for another department "
            "(pelastus_hub.contract.reasons.SECURITY_REASONS), by sending department and reason.",
            ["department", "reason"],
            registry=r,
        )
        # Every series from 0, so that the first event is an increase() an alert sees.
        for department in sorted(departments):
            for reason in sorted(SECURITY_REASONS):
                self.security_events.labels(department, reason)
        self.warnings = Counter(
            "pelastus_hub_warnings_total",
            "Accepted records the department was warned about, by warning code.",
            ["department", "family", "warning"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "pelastus_hub_batch_processing_seconds",
            "Time to process one consumed batch, from validation to committed offsets.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.event_lag = Gauge(
            "pelastus_hub_event_lag_seconds",
            "Processing time minus the event time of the newest accepted event in the "
            "department's latest batch.",
            ["department"],
            registry=r,
        )
        self.units = Gauge(
            "pelastus_hub_units",
            "Units in the latest snapshot by department, unit type and status class.",
            ["department", "unit_type", "status_class"],
            registry=r,
        )
        self.last_event = Gauge(
            "pelastus_hub_last_event_timestamp_seconds",
            "Latest event time among the department's units in the latest snapshot, Unix seconds.",
            ["department"],
            registry=r,
        )
        self.snapshots = Counter(
            "pelastus_hub_snapshots_published_total",
            "Capability snapshots published.",
            registry=r,
        )
        self.kpi_windows = Counter(
            "pelastus_hub_kpi_windows_closed_total",
            "KPI windows closed and their final results published (leading worker).",
            registry=r,
        )
        self.state_entities = Gauge(
            "pelastus_hub_state_entities",
            "Units, incidents and stations in this worker's state; incidents until retired.",
            ["family"],
            registry=r,
        )
        self.snapshot_sequence = Gauge(
            "pelastus_hub_snapshot_sequence",
            "Sequence number of the latest published snapshot.",
            registry=r,
        )

    def follow_leadership(self, leading: Callable[[], bool]) -> None:
        """The leader gauge reads `leading` whenever the metrics are collected."""
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)

    def record_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Records behind, by (topic, partition): the partitions of one batch."""
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(lag)

    def forget_partitions(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Revoked partitions: their lag is another worker's to report now."""
        for topic, partition in partitions:
            self.consumer_lag.remove(topic, str(partition))

    def record_batch(self, result: BatchResult, now: datetime, seconds: float) -> None:
        # Counted once per label set per batch, not per record: the hot path stays cheap.
        for (department, family, outcome), count in result.outcomes.items():
            self.records.labels(department, family, outcome).inc(count)
        for letter in result.dead_letters:
            reason = letter.rejection.reason
            self.dead_letters.labels(letter.department, reason).inc()
            if reason in SECURITY_REASONS:
                self.security_events.labels(letter.department, reason).inc()
        for warned in result.warnings:
            self.warnings.labels(warned.department, warned.family, warned.code).inc()
        for department, newest in result.newest.items():
            self.event_lag.labels(department).set((now - newest).total_seconds())
        self.batch_seconds.observe(seconds)

    def export_snapshot(self, snapshot: Snapshot) -> None:
        """The published snapshot's gauges: units by type and status class, and each
        department's newest unit event."""
        self.snapshots.inc()
        self.snapshot_sequence.set(snapshot.sequence)
        counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for code, view in snapshot.actual.departments.items():
            units = view.parts[UNIT_STATUS]
            for unit_type, statuses in units.units_by_type.items():
                for status, count in statuses.items():
                    counts[code, unit_type, STATUS_CLASS[status]] += count
            if units.last_event_time:
                self.last_event.labels(code).set(units.last_event_time.timestamp())
        self.units.clear()
        for labels, count in counts.items():
            self.units.labels(*labels).set(count)
