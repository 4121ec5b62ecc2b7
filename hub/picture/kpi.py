"""Response-time KPIs per department in tumbling event-time windows: pure functions.

An incident belongs to the windows that hold its alarm time (the earliest opened
event's occurred_at): one hour (UTC-aligned; Finnish hours are whole-hour offsets)
and one day (a calendar day in the configured time zone, Europe/Helsinki by default,
so 23 or 25 hours at the daylight-saving changes).

Per window: the urgent incidents (urgency A or B), those a unit reached, the median
and 90th percentile of the first unit's response time (first unit_on_scene minus the
alarm), and the share that met its risk class's target; risk class IV (no single
target) and an unknown class are reported apart, never in the share.

Percentiles are nearest-rank: the q-th percentile of n sorted values is the value at
rank ceil(q * n), so it is always one of the measured times (the median of an even
count is the lower middle one).

A window closes when the department's stream time (its newest incident event time)
has passed the window's end by the grace; its result is then final, published once,
and later events do not change it. Asked for, a window whose end plus the grace lies
before now and that has no final result has none to give (NoResult), unless incidents
of it are still waiting for their department's stream time to close it: then their
figures so far, not final.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import TypeAdapter

from pelastus_hub.families.incident import IncidentState
from pelastus_hub.picture.kpi_windows import Window, Windows, has_passed

KPI_SCHEMA = "fi.pelastus.kpi.v1"
URGENT = frozenset({"A", "B"})
TARGETED = ("I", "II", "III")
RISK_GROUPS = (*TARGETED, "IV", "unknown")


@dataclass(slots=True)
class RiskGroup:
    """The urgent incidents of one risk class (or IV, or unknown) in a window."""

    incidents: int
    responded: int
    median_seconds: float | None
    p90_seconds: float | None
    target_seconds: float | None
    met: int | None
    met_share: float | None


@dataclass(slots=True)
class KpiResult:
    """One department's KPIs in one window, per schemas/kpi/v1.json; orjson writes it as is."""

    schema: str
    department: str
    window: Window
    final: bool
    generated_at: datetime
    grace_seconds: float
    urgent_incidents: int
    responded: int
    median_seconds: float | None
    p90_seconds: float | None
    target_met_share: float | None
    by_risk_class: dict[str, RiskGroup]

    @property
    def key(self) -> str:
        """'pirkanmaa/hour/2026-11-28T07:00:00+00:00': its key, on national.kpi too."""
        return f"{self.department}/{self.window.key}"


@dataclass(frozen=True, slots=True)
class NoResult:
    """Why a window asked for has no result, though its time is over: no incident of the
    department was recorded in it ("none"), the hub closed it empty and the incidents
    recorded since came too late to count ("late"), or it ended longer ago than the hub
    keeps final results ("expired")."""

    department: str
    window: Window
    reason: str
    kept: timedelta

    @property
    def message(self) -> str:
        name = f"the {self.window.kind} from {self.window.start.isoformat()}"
        if self.reason == "late":
            return (
                f"no KPI result for {self.department} in {name}: it closed with no incident "
                f"of {self.department} in it, and those recorded since came too late to count"
            )
        if self.reason == "expired":
            return (
                f"no KPI result for {self.department} in {name}: it ended more than "
                f"{self.kept.days} days ago, before what the hub keeps (national.kpi keeps "
                f"final results {self.kept.days} days)"
            )
        return (
            f"no KPI result for {self.department} in {name}: no incident of "
            f"{self.department} was recorded in that window"
        )


def no_result(
    department: str,
    window: Window,
    incidents: int,
    closed_empty: bool,
    grace: timedelta,
    kept: timedelta,
    now: datetime,
) -> NoResult | None:
    """Why a window without a final result has no result to give, or None if it has one:
    figures so far, not final. incidents: how many of the department have their alarm in
    it; closed_empty: the hub closed it with none (so any since are late).

    A window the hub closed empty has no result. Nor has one whose end plus the grace has
    passed with no incident in it: zeros would look like an open window's. One whose time
    has passed but whose incidents wait for their department's stream time to close it
    (the department has sent nothing since) does have figures so far."""
    if closed_empty and incidents:
        return NoResult(department, window, "late", kept)
    if closed_empty or (not incidents and has_passed(window, grace, now)):
        expired = window.end + grace + kept < now
        return NoResult(department, window, "expired" if expired else "none", kept)
    return None


# national.kpi's records read back: the one place KPI results come from JSON.
read_result = TypeAdapter(KpiResult).validate_json


def nearest_rank(values: list[float], q: float) -> float | None:
    """The q-th percentile (0 < q <= 1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def response_seconds(incident: IncidentState) -> float | None:
    """First unit on scene minus the alarm; None until a unit is there, and None for an
    arrival before the alarm, which no clock could measure: a data error, not a response."""
    if incident.opened is None:
        return None
    arrivals = [on_scene for _, on_scene in incident.units.values() if on_scene is not None]
    if not arrivals:
        return None
    seconds = (min(arrivals) - incident.opened[0]).total_seconds()
    return seconds if seconds >= 0 else None


def result(
    department: str,
    window: Window,
    incidents: Iterable[IncidentState],
    targets: dict[str, float],
    final: bool,
    now: datetime,
    grace_seconds: float,
) -> KpiResult:
    """The KPIs of one department's window, from the incidents whose alarm falls in it."""
    groups: dict[str, list[float | None]] = {group: [] for group in RISK_GROUPS}
    for incident in incidents:
        if incident.attribute("urgency") in URGENT:
            risk = incident.attribute("risk_class")
            groups[risk if risk in groups else "unknown"].append(response_seconds(incident))
    by_risk = {
        group: _group(times, targets.get(group) if group in TARGETED else None)
        for group, times in groups.items()
    }
    every = [t for times in groups.values() for t in times if t is not None]
    measured = sum(by_risk[g].responded for g in TARGETED)
    met = sum(by_risk[g].met or 0 for g in TARGETED)
    return KpiResult(
        schema=KPI_SCHEMA,
        department=department,
        window=window,
        final=final,
        generated_at=now,
        grace_seconds=grace_seconds,
        urgent_incidents=sum(len(times) for times in groups.values()),
        responded=len(every),
        median_seconds=nearest_rank(every, 0.5),
        p90_seconds=nearest_rank(every, 0.9),
        target_met_share=round(met / measured, 4) if measured else None,
        by_risk_class=by_risk,
    )


def _group(times: list[float | None], target: float | None) -> RiskGroup:
    measured = [t for t in times if t is not None]
    met = sum(t <= target for t in measured) if target is not None else None
    return RiskGroup(
        incidents=len(times),
        responded=len(measured),
        median_seconds=nearest_rank(measured, 0.5),
        p90_seconds=nearest_rank(measured, 0.9),
        target_seconds=target,
        met=met,
        met_share=round(met / len(measured), 4) if met is not None and measured else None,
    )


class KpiBook:
    """The windows closed so far and their final results, and which close next.

    The leading worker closes windows (due); every worker learns of closures from
    national.kpi (record_final), so that whichever processes an event for a closed
    window can tell the department it came too late to count.
    """

    def __init__(self, windows: Windows, grace_seconds: float, targets: dict[str, float]) -> None:
        self.windows = windows
        self.grace = timedelta(seconds=grace_seconds)
        self.targets = targets
        self.finals: dict[str, KpiResult] = {}  # "<department>/<window key>" -> result
        # Each department's stream time when its closings were last published: a window
        # that ended (plus grace) before it closed then, with or without a result.
        self.horizon: dict[str, datetime] = {}
        self._looked: dict[str, datetime] = {}  # the stream times of the last due()

    def record_final(self, result: KpiResult) -> None:
        self.finals[result.key] = result

    def forget(self, result: KpiResult) -> None:
        """A final result that could not be published after all: the window is open again."""
        self.finals.pop(result.key, None)

    def is_late(self, department: str, alarm: datetime) -> bool:
        """Whether a window of this alarm time has closed already."""
        return any(self._closed(department, w) for w in self.windows.of(alarm))

    def _closed(self, department: str, window: Window) -> bool:
        """Published as final, or closed empty (no incident when it closed)."""
        horizon = self.horizon.get(department)
        return f"{department}/{window.key}" in self.finals or (
            horizon is not None and horizon >= window.end + self.grace
        )

    def due(
        self, incidents: Iterable[IncidentState], departments: Iterable[str], now: datetime
    ) -> list[KpiResult]:
        """Final results of the windows that close now, each recorded as final here."""
        incidents = [i for i in incidents if i.mode == "actual"]
        grouped = self.group(incidents, departments)
        # A department's stream time: the newest event time of any of its incidents.
        stream_time: dict[str, datetime] = {}
        for incident in incidents:
            seen = stream_time.get(incident.department)
            if incident.last_event_at and (seen is None or incident.last_event_at > seen):
                stream_time[incident.department] = incident.last_event_at
        closing = []
        for (department, key), (window, members) in sorted(grouped.items()):
            closes = window.end + self.grace
            if f"{department}/{key}" in self.finals or stream_time[department] < closes:
                continue
            seen = self.horizon.get(department)
            if seen is not None and seen >= closes:
                continue  # it closed empty before: its incidents all came late
            final = self.result(department, window, members, True, now)
            self.record_final(final)
            closing.append(final)
        self._looked = stream_time
        return closing

    def published(self) -> None:
        """The last due()'s results are out: what closed then stays closed."""
        self.horizon.update(self._looked)

    def retired(self, incidents: Iterable[IncidentState]) -> list[IncidentState]:
        """Real incidents no KPI or snapshot needs any more: ended ones whose windows are
        final, and ones never opened whose last event lies in final windows (as a late
        event for an incident already retired would make)."""
        retired = []
        for incident in incidents:
            if incident.mode != "actual":
                continue
            if incident.opened is not None:
                if incident.ended is None:
                    continue
                when = incident.opened[0]
            elif incident.last_event_at is not None:
                when = incident.last_event_at
            else:
                continue
            if all(self._closed(incident.department, w) for w in self.windows.of(when)):
                retired.append(incident)
        return retired

    def group(
        self, incidents: Iterable[IncidentState], departments: Iterable[str]
    ) -> dict[tuple[str, str], tuple[Window, list[IncidentState]]]:
        """Real incidents with an alarm time, by (department, window key)."""
        codes = set(departments)
        grouped: dict[tuple[str, str], tuple[Window, list[IncidentState]]] = {}
        for incident in incidents:
            if incident.mode != "actual" or incident.opened is None:
                continue
            if incident.department not in codes:
                continue
            for window in self.windows.of(incident.opened[0]):
                entry = grouped.setdefault((incident.department, window.key), (window, []))
                entry[1].append(incident)
        return grouped

    def result(
        self,
        department: str,
        window: Window,
        incidents: Iterable[IncidentState],
        final: bool,
        now: datetime,
    ) -> KpiResult:
        return result(
            department, window, incidents, self.targets, final, now, self.grace.total_seconds()
        )

    def query(
        self,
        incidents: Iterable[IncidentState],
        department: str,
        kind: str,
        start: datetime | None,
        now: datetime,
        kept: timedelta,
    ) -> KpiResult | NoResult | None:
        """A window's final result if it has one; why it has none (no_result) if its time
        is over without one; else its result so far (not final). Without start, the latest
        window of the department with any incident or final result in it, None if there is
        none. kept: how long national.kpi keeps final results."""
        grouped = self.group(incidents, [department])
        if start is None:
            starts = [w.start for w, _ in grouped.values() if w.kind == kind]
            starts += [
                final.window.start
                for final in self.finals.values()
                if final.department == department and final.window.kind == kind
            ]
            if not starts:
                return None
            start = max(starts)
        window = self.windows.named(kind, start)
        final = self.finals.get(f"{department}/{window.key}")
        if final is not None:
            return final
        members = grouped.get((department, window.key), (window, []))[1]
        closed_empty = self._closed(department, window)  # with no final: closed empty
        missing = no_result(department, window, len(members), closed_empty, self.grace, kept, now)
        if missing is not None:
            return missing
        return self.result(department, window, members, False, now)
