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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.state.store import DEDUP_WINDOW, Outcome, entity_key

ATTRIBUTES = ("incident_type", "urgency", "municipality_code", "risk_class", "grid_square")
ENDS = frozenset({"closed", "cancelled"})

Stamp = tuple[datetime, str, str]  # (occurred_at, event id, source): the order of events


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
    recent_events: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return entity_key(self.department, self.incident_id, self.mode)

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
        stamp = (event.event_time, event.id, event.source)
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

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # a dataclass; datetimes as RFC 3339

    @classmethod
    def from_json(cls, raw: bytes) -> "IncidentState":
        obj = orjson.loads(raw)
        parse = datetime.fromisoformat
        state = cls(obj["mode"], obj["department"], obj["incident_id"])
        if obj["opened"]:
            when, event_id, source = obj["opened"]
            state.opened = (parse(when), event_id, source)
        state.attributes = {
            name: (parse(when), event_id, source, value)
            for name, (when, event_id, source, value) in obj["attributes"].items()
        }
        state.units = {
            unit_id: [None if t is None else parse(t) for t in times]
            for unit_id, times in obj["units"].items()
        }
        if obj["ended"]:
            when, event_id, source, kind = obj["ended"]
            state.ended = (parse(when), event_id, source, kind)
        state.last_event_at = parse(obj["last_event_at"])
        state.recent_events = tuple((i, s) for i, s in obj["recent_events"])
        return state


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


class IncidentStore:
    def __init__(self, is_late: Callable[[str, datetime], bool] | None = None) -> None:
        """`is_late(department, alarm time)`: whether a KPI window of that alarm has closed."""
        self.incidents: dict[str, IncidentState] = {}
        self._changed: set[str] = set()
        self.is_late = is_late

    def __len__(self) -> int:
        return len(self.incidents)

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        known = self.incidents.get(entity_key(department, event.entity_id, event.mode))
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

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = entity_key(department, event.entity_id, event.mode)
        state = self.incidents.get(key)
        if state is None:
            self.incidents[key] = IncidentState.from_event(department, event)
        elif (event.id, event.source) in state.recent_events:
            return Outcome.DUPLICATE
        else:
            state.merge(IncidentState.from_event(department, event))
        self._changed.add(key)
        return Outcome.ACCEPTED

    def forget(self, key: str) -> None:
        self.incidents.pop(key, None)
        self._changed.discard(key)

    def take_changes(self) -> list[IncidentState]:
        changed = [self.incidents[key] for key in self._changed]
        self._changed.clear()
        return changed

    def restore(self, raw: bytes) -> None:
        """Merge a changelog record in: incidents merge, so no record order matters."""
        state = IncidentState.from_json(raw)
        current = self.incidents.get(state.key)
        if current is None:
            self.incidents[state.key] = state
        else:
            current.merge(state)
