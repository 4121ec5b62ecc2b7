"""Incidents as the sum of their events: a merge that no arrival order can change.

Each incident folds its events into one state with rules that are commutative and
idempotent, so out-of-order delivery, redelivery and a restored changelog record
all give the same incident:

- the alarm time is the earliest `opened` event's occurred_at;
- incident_type, urgency, municipality_code, risk_class and grid_square come, field by field,
  from the newest event carrying them (urgency may be revised during the task);
- per unit, the earliest dispatch and the earliest arrival on scene;
- the end (closed or cancelled) from the newest end event.

Events are ordered by (occurred_at, event id, source). An event for an incident whose
`opened` has not been seen is accepted and kept, with a warning to the department.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pelastus_hub.contract.envelope import IncidentEvent
from pelastus_hub.contract.incident import IncidentV1
from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.families.base import Family, Holdings, PicturePart
from pelastus_hub.families.unit_status import NAME as UNIT_STATUS
from pelastus_hub.families.unit_status import STATUS_CLASS, UnitState
from pelastus_hub.state.codec import StateCodec
from pelastus_hub.state.store import (
    DEDUP_WINDOW,
    Identity,
    MergeStore,
    Stamp,
    StoreContext,
    entity_key,
    stamp_of,
)

NAME = "incident"
ATTRIBUTES = ("incident_type", "urgency", "municipality_code", "risk_class", "grid_square")
ENDS = frozenset({"closed", "cancelled"})
URGENCIES = ("A", "B", "C", "D")


@dataclass(slots=True)
class IncidentState:
    mode: str
    department: str
    incident_id: str
    opened: Stamp | None = None
    # field -> (occurred_at, event id, source, value) of the newest event carrying it
    attributes: dict[str, tuple[datetime, str, str, str]] = field(default_factory=dict)
    # unit_id -> [earliest dispatch, earliest arrival on scene]; None where not seen
    units: dict[str, list[datetime | None]] = field(default_factory=dict)
    ended: tuple[datetime, str, str, str] | None = None  # (*stamp, closed or cancelled)
    last_event_at: datetime | None = None
    recent_events: tuple[Identity, ...] = ()

    @property
    def key(self) -> str:
        return entity_key(self.department, self.incident_id, self.mode)

    @property
    def last_event_time(self) -> datetime | None:
        return self.last_event_at

    @property
    def status(self) -> str:
        """closed or cancelled once ended; open once opened; unopened before that."""
        if self.ended is not None:
            return self.ended[3]
        return "open" if self.opened is not None else "unopened"

    def attribute(self, name: str) -> str | None:
        found = self.attributes.get(name)
        return found[3] if found else None

    @classmethod
    def from_event(cls, department: str, event: ValidEvent) -> "IncidentState":
        """What one event alone says of its incident."""
        data = event.data
        stamp = stamp_of(event)
        state = cls(event.mode, department, event.entity_id)
        if data.event == "opened":
            state.opened = stamp
        for name in ATTRIBUTES:
            if (value := getattr(data, name)) is not None:
                state.attributes[name] = (*stamp, value)
        if data.unit_id is not None:
            arrived = data.event == "unit_on_scene"
            state.units[data.unit_id] = (
                [None, event.event_time] if arrived else [event.event_time, None]
            )
        if data.event in ENDS:
            state.ended = (*stamp, data.event)
        state.last_event_at = event.event_time
        state.recent_events = ((event.id, event.source),)
        return state

    def merge(self, other: "IncidentState") -> None:
        """Take in what another state of the same incident knows: an event's, or a changelog
        record's. Commutative and idempotent, so neither order nor repetition matters."""
        if other.opened is not None and (self.opened is None or other.opened < self.opened):
            self.opened = other.opened
        for name, theirs in other.attributes.items():
            ours = self.attributes.get(name)
            if ours is None or theirs[:3] > ours[:3]:
                self.attributes[name] = theirs
        for unit_id, their_times in other.units.items():
            times = self.units.setdefault(unit_id, [None, None])
            for slot, theirs in enumerate(their_times):
                if theirs is not None and (times[slot] is None or theirs < times[slot]):
                    times[slot] = theirs
        if other.ended is not None and (self.ended is None or other.ended[:3] > self.ended[:3]):
            self.ended = other.ended
        if other.last_event_at is not None and (
            self.last_event_at is None or other.last_event_at > self.last_event_at
        ):
            self.last_event_at = other.last_event_at
        merged = dict.fromkeys((*self.recent_events, *other.recent_events))
        self.recent_events = tuple(merged)[-DEDUP_WINDOW:]


def _counts_for_kpis(event: ValidEvent, known: IncidentState | None) -> bool:
    """Whether the event could change a KPI result: an alarm, an arrival earlier than any
    yet, or another urgency or risk class. Dispatches and ends never do."""
    data = event.data
    if data.event == "opened":
        return True
    if data.event == "unit_on_scene":
        arrivals = [t for _, t in known.units.values() if t] if known else []
        if not arrivals or event.event_time < min(arrivals):
            return True
    return any(
        getattr(data, name) is not None
        and (known is None or getattr(data, name) != known.attribute(name))
        for name in ("urgency", "risk_class")
    )


class IncidentStore(MergeStore[IncidentState]):
    def __init__(self, context: StoreContext) -> None:
        super().__init__(IncidentState)
        self.is_late = context.is_late

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        known = self.states.get(entity_key(department, event.entity_id, event.mode))
        alarm = known.opened[0] if known is not None and known.opened is not None else None
        if event.data.event == "opened" and (alarm is None or event.event_time < alarm):
            alarm = event.event_time
        if alarm is None:
            return WarningCode.INCIDENT_NOT_OPENED
        if (
            event.mode == "actual"
            and self.is_late is not None
            and _counts_for_kpis(event, known)
            and self.is_late(department, alarm)
        ):
            return WarningCode.LATE_FOR_KPI_WINDOW
        return None


@dataclass(slots=True)
class OpenIncident:
    incident_id: str
    status: str
    incident_type: str | None
    urgency: str | None
    municipality_code: str | None
    risk_class: str | None
    opened_at: datetime | None
    units_committed: list[str]


@dataclass(slots=True)
class IncidentCounts:
    """Open incidents counted: the national view's part."""

    open: int
    by_urgency: dict[str, int]
    by_type: dict[str, int]


@dataclass(slots=True)
class Incidents(IncidentCounts):
    """A department's part: the open incidents counted and listed."""

    open_incidents: list[OpenIncident]


def incident_view(incidents: Iterable[IncidentState], units: Iterable[UnitState]) -> Incidents:
    """Incidents not yet ended, counted and listed with the units committed to them
    (units whose status is committed and whose incident_id names the incident)."""
    committed: dict[str, list[str]] = {}
    for unit in units:
        if unit.incident_id is not None and STATUS_CLASS[unit.status] == "committed":
            committed.setdefault(unit.incident_id, []).append(unit.unit_id)
    listed = []
    urgency: Counter[str] = Counter()
    types: Counter[str] = Counter()
    for incident in incidents:
        if incident.ended is not None:
            continue
        attribute = incident.attribute
        urgency[attribute("urgency") or "unknown"] += 1
        types[attribute("incident_type") or "unknown"] += 1
        listed.append(
            OpenIncident(
                incident.incident_id,
                incident.status,
                attribute("incident_type"),
                attribute("urgency"),
                attribute("municipality_code"),
                attribute("risk_class"),
                incident.opened[0] if incident.opened else None,
                sorted(committed.get(incident.incident_id, [])),
            )
        )
    listed.sort(key=lambda entry: entry.incident_id)
    return Incidents(
        len(listed),
        {u: urgency[u] for u in (*URGENCIES, "unknown")},
        dict(sorted(types.items())),
        listed,
    )


def _department(held: Holdings, now: datetime) -> Incidents:
    return incident_view(held.get(NAME, ()), held.get(UNIT_STATUS, ()))


def _national(parts: Mapping[str, IncidentCounts], stale: Sequence[str]) -> IncidentCounts:
    """Counted, not listed: the open incidents are in each department's view."""
    views = list(parts.values())
    types: Counter[str] = Counter()
    for view in views:
        types.update(view.by_type)
    return IncidentCounts(
        sum(v.open for v in views),
        {u: sum(v.by_urgency[u] for v in views) for u in (*URGENCIES, "unknown")},
        dict(sorted(types.items())),
    )


FAMILY = Family(
    name=NAME,
    models={1: IncidentV1},
    event_model=IncidentEvent,
    key_field="incident_id",
    time_field="occurred_at",
    municipality_field="municipality_code",
    new_store=IncidentStore,
    codec=StateCodec(IncidentState),
    picture=PicturePart(key="incidents", department=_department, national=_national),
    warnings=(WarningCode.INCIDENT_NOT_OPENED, WarningCode.LATE_FOR_KPI_WINDOW),
)
