"""Prometheus metrics of one worker, in a registry of its own.

Names follow Prometheus conventions: prefix pelastus_hub_, base units, counters
ending in _total. Every label value comes from a closed set (registry
departments, families, outcomes, reason and warning codes, unit types, status classes,
the worker's input partitions). Beside them, prometheus_client's process and Python
collectors (process_*, python_*); counters and histograms have no _created series.

The counters' series by department exist from the start at 0, so that an alert's
increase() sees the first event. Times are exported as timestamps, not ages: the alert
rules compute the age, which then grows while the worker does nothing (deploy/prometheus).
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

from pelastus_hub.contract.reasons import SECURITY_REASONS, Reason
from pelastus_hub.families.base import Family
from pelastus_hub.families.unit_status import NAME as UNIT_STATUS
from pelastus_hub.families.unit_status import STATUS_CLASS
from pelastus_hub.picture.snapshot import Snapshot
from pelastus_hub.pipeline.batch import BatchResult
from pelastus_hub.state.freshness import newest
from pelastus_hub.state.store import Outcome

BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def version() -> str:
    """The installed distribution's version, as pelastus_hub.__version__ reads it (a runtime
    module does not import the package's __init__)."""
    try:
        return metadata.version("pelastus-hub")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class HubMetrics:
    def __init__(self, departments: Iterable[str] = (), families: Iterable[Family] = ()) -> None:
        """`departments`: the registry's codes, and `families`: the hub's; their counters'
        series start at 0."""
        departments, families = sorted(departments), list(families)
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
            "Records of the input partition not yet processed: its last stable offset minus "
            "the next offset this worker processes, measured every few seconds whether or "
            "not batches complete. Only partitions assigned to this worker.",
            ["topic", "partition", "department"],
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
        self.accepted_event = Gauge(
            "pelastus_hub_accepted_event_timestamp_seconds",
            "Event time of the newest event this worker has accepted from the department, "
            "Unix seconds. time() minus it is the event lag, which grows while nothing is "
            "processed.",
            ["department"],
            registry=r,
        )
        self._accepted: dict[str, datetime] = {}
        self.units = Gauge(
            "pelastus_hub_units",
            "Units in the latest snapshot by department, unit type and status class.",
            ["department", "unit_type", "status_class"],
            registry=r,
        )
        self._unit_series: dict[tuple[str, str, str], Gauge] = {}  # of self.units, by labels
        self.last_event = Gauge(
            "pelastus_hub_last_event_timestamp_seconds",
            "Latest event time of the department in any family in the latest snapshot, "
            "Unix seconds (leading worker).",
            ["department"],
            registry=r,
        )
        self.stale = Gauge(
            "pelastus_hub_department_stale",
            "1 if the latest snapshot flags the department stale (silent in every family for "
            "over stale_after_seconds, or never heard from), else 0 (leading worker).",
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
        for department in departments:
            for family in families:
                for outcome in Outcome:
                    self.records.labels(department, family.name, outcome)
                for warning in family.warnings:
                    self.warnings.labels(department, family.name, warning)
            for reason in Reason:
                self.dead_letters.labels(department, reason)
            for reason in sorted(SECURITY_REASONS):
                self.security_events.labels(department, reason)

    def follow_leadership(self, leading: Callable[[], bool]) -> None:
        """The leader gauge reads `leading` whenever the metrics are collected."""
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)

    def record_consumer_lag(self, lags: Mapping[tuple[str, int, str], int]) -> None:
        """Records not yet processed, by (topic, partition, department)."""
        for (topic, partition, department), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition), department).set(lag)

    def forget_partitions(self, partitions: Iterable[tuple[str, int, str]]) -> None:
        """Revoked partitions, as (topic, partition, department): their lag is another
        worker's to report now."""
        for topic, partition, department in partitions:
            self.consumer_lag.remove(topic, str(partition), department)

    def record_batch(self, result: BatchResult, seconds: float) -> None:
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
        for department, when in result.newest.items():
            known = self._accepted.get(department)
            if known is None or when > known:
                self._accepted[department] = when
                self.accepted_event.labels(department).set(when.timestamp())
        self.batch_seconds.observe(seconds)

    def export_snapshot(self, snapshot: Snapshot) -> None:
        """The published snapshot's gauges: units by type and status class, each
        department's newest event and whether it is stale."""
        self.snapshots.inc()
        self.snapshot_sequence.set(snapshot.sequence)
        counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for code, view in snapshot.actual.departments.items():
            units = view.parts[UNIT_STATUS]
            for unit_type, statuses in units.units_by_type.items():
                for status, count in statuses.items():
                    counts[code, unit_type, STATUS_CLASS[status]] += count
            latest = newest(f.last_event_time for f in view.freshness.values())
            if latest is not None:
                self.last_event.labels(code).set(latest.timestamp())
            self.stale.labels(code).set(1 if view.stale else 0)
        # Kept series are set, not made anew: a snapshot may come every 250 ms.
        for gone in self._unit_series.keys() - counts.keys():
            self.units.remove(*gone)
            del self._unit_series[gone]
        for labels, count in counts.items():
            series = self._unit_series.get(labels)
            if series is None:
                series = self._unit_series[labels] = self.units.labels(*labels)
            series.set(count)

    def forget_snapshot(self) -> None:
        """Not leading (any more): the snapshot's gauges are the leader's to export."""
        for gauge in (self.units, self.last_event, self.stale):
            gauge.clear()
        self._unit_series.clear()
