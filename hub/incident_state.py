"""Incidents as the sum of their events: a merge that no arrival order can change.

Each incident folds its events into one state with rules that are commutative and
idempotent, so out-of-order delivery, redelivery and a restored changelog record
all give the same incident:

- the alarm time is the earliest `opened` event's occurred_at;
- incident_type, urgency, municipality_code, risk_class and grid_square come, field by field,
  from the newest event carrying them (urgency may be revised during the task);
- per unit, the earliest dispatch and the earliest arrival on scene;
- the end (closed or cancelled) from the newest end event.

Events are ordered by (occurred_at, event id). An event for an incident whose
`opened` has not been seen is accepted and kept, with a warning to the department.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from hub.ingest import ValidEvent
from hub.reasons import WarningCode
from hub.state import DEDUP_WINDOW, Outcome, entity_key

ATTRIBUTES = ("incident_type", "urgency", "municipality_code", "risk_class", "grid_square")
ENDS = frozenset({"closed", "cancelled"})

Stamp = tuple[datetime, str]  # (occurred_at, event id): the order of events


@dataclass(slots=True)
class IncidentState:
    mode: str
    department: str
    incident_id: str
    opened: Stamp | None = None
    # field -> (occurred_at, event id, value) of the newest event carrying it
    attributes: dict[str, tuple[datetime, str, str]] = field(default_factory=dict)
    # unit_id -> [earliest dispatch, earliest arrival on scene]; None where not seen
    units: dict[str, list[datetime | None]] = field(default_factory=dict)
    ended: tuple[datetime, str, str] | None = None  # (occurred_at, event id, closed|cancelled)
    last_event_at: datetime | None = None
    recent_events: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return entity_key(self.department, self.incident_id, self.mode)

    @property
    def status(self) -> str:
        """closed or cancelled once ended; open once opened; unopened before that."""
        if self.ended is not None:
            return self.ended[2]
        return "open" if self.opened is not None else "unopened"

    def attribute(self, name: str) -> str | None:
        found = self.attributes.get(name)
        return found[2] if found else None

    def fold(self, event: ValidEvent) -> None:
        data = event.data
        stamp = (event.event_time, event.id)
        if data.event == "opened" and (self.opened is None or stamp < self.opened):
            self.opened = stamp
        attributes = self.attributes
        for name in ATTRIBUTES:
            value = getattr(data, name)
            if value is not None:
                current = attributes.get(name)
                if current is None or stamp > current[:2]:
                    attributes[name] = (*stamp, value)
        if data.unit_id is not None:
            times = self.units.setdefault(data.unit_id, [None, None])
            slot = 0 if data.event == "unit_dispatched" else 1
            if times[slot] is None or event.event_time < times[slot]:
                times[slot] = event.event_time
        if data.event in ENDS and (self.ended is None or stamp > self.ended[:2]):
            self.ended = (*stamp, data.event)
        if self.last_event_at is None or event.event_time > self.last_event_at:
            self.last_event_at = event.event_time
        identity = (event.id, event.source)
        self.recent_events = (*self.recent_events[-(DEDUP_WINDOW - 1) :], identity)

    def merge(self, other: "IncidentState") -> None:
        """Take in what another state of the same incident knows (a changelog record)."""
        if other.opened is not None and (self.opened is None or other.opened < self.opened):
            self.opened = other.opened
        for name, theirs in other.attributes.items():
            ours = self.attributes.get(name)
            if ours is None or theirs[:2] > ours[:2]:
                self.attributes[name] = theirs
        for unit_id, their_times in other.units.items():
            times = self.units.setdefault(unit_id, [None, None])
            for slot, theirs in enumerate(their_times):
                if theirs is not None and (times[slot] is None or theirs < times[slot]):
                    times[slot] = theirs
        if other.ended is not None and (self.ended is None or other.ended[:2] > self.ended[:2]):
            self.ended = other.ended
        if other.last_event_at is not None and (
            self.last_event_at is None or other.last_event_at > self.last_event_at
        ):
            self.last_event_at = other.last_event_at
        merged = dict.fromkeys((*other.recent_events, *self.recent_events))
        self.recent_events = tuple(merged)[-DEDUP_WINDOW:]

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # a dataclass; datetimes as RFC 3339

    @classmethod
    def from_json(cls, raw: bytes) -> "IncidentState":
        obj = orjson.loads(raw)
        parse = _parse_time
        state = cls(obj["mode"], obj["department"], obj["incident_id"])
        if obj["opened"]:
            state.opened = (parse(obj["opened"][0]), obj["opened"][1])
        state.attributes = {
            name: (parse(when), event_id, value)
            for name, (when, event_id, value) in obj["attributes"].items()
        }
        state.units = {u: [parse(t) for t in times] for u, times in obj["units"].items()}
        if obj["ended"]:
            when, event_id, kind = obj["ended"]
            state.ended = (parse(when), event_id, kind)
        state.last_event_at = parse(obj["last_event_at"])
        state.recent_events = tuple((i, s) for i, s in obj["recent_events"])
        return state


def _parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class IncidentStore:
    def __init__(self) -> None:
        self.incidents: dict[str, IncidentState] = {}
        self._changed: set[str] = set()

    def __len__(self) -> int:
        return len(self.incidents)

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        if event.data.event == "opened":
            return None
        known = self.incidents.get(entity_key(department, event.entity_id, event.mode))
        return WarningCode.INCIDENT_NOT_OPENED if known is None or known.opened is None else None

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = entity_key(department, event.entity_id, event.mode)
        state = self.incidents.get(key)
        if state is None:
            state = self.incidents[key] = IncidentState(event.mode, department, event.entity_id)
        elif (event.id, event.source) in state.recent_events:
            return Outcome.DUPLICATE
        state.fold(event)
        self._changed.add(key)
        return Outcome.ACCEPTED

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
