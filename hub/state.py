"""Latest state per entity (unit, station), decided by event time, and its changelog encoding.

An event replaces an entity's state only when it is newer: (event time, event id,
source) greater than the current one, so the result does not depend on arrival order.
An entity remembers the identities of its last DEDUP_WINDOW accepted events; a
redelivery of any of them is a duplicate and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Generic, Protocol, Self, TypeVar

import orjson

from hub.ingest import ValidEvent
from hub.reasons import WarningCode

DEDUP_WINDOW = 32


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DEAD_LETTERED = "dead_lettered"


class State(Protocol):
    @property
    def key(self) -> str: ...

    def to_json(self) -> bytes: ...


class Store(Protocol):
    """A family's states: what the worker applies events to and writes to the changelog."""

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        """What an accepted event deserves a warning for, asked before apply."""

    def apply(self, department: str, event: ValidEvent) -> Outcome: ...

    def take_changes(self) -> list[State]: ...

    def restore(self, raw: bytes) -> None: ...

    def forget(self, key: str) -> None:
        """Drop an entity whose changelog record was deleted (a tombstone)."""

    def __len__(self) -> int: ...


class LatestState(Protocol):
    key: str
    observed_at: datetime
    event_id: str
    recent_events: tuple[tuple[str, str], ...]

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[tuple[str, str], ...]
    ) -> Self: ...

    @classmethod
    def from_json(cls, raw: bytes) -> Self: ...

    def to_json(self) -> bytes: ...


S = TypeVar("S", bound=LatestState)


# Not frozen: a frozen dataclass's __init__ costs several times more, on the hot path.
# States are replaced, never changed in place.
@dataclass(slots=True)
class UnitState:
    mode: str  # actual, exercise or test: each keeps a state of its own
    department: str
    unit_id: str
    unit_type: str
    status: str
    station_id: str
    crew: int
    capabilities: tuple[str, ...]
    position: tuple[float, float] | None
    incident_id: str | None
    observed_at: datetime
    event_id: str
    # (id, source) of the last accepted events, oldest first. Id first: ids differ
    # in their first characters, sources share long prefixes.
    recent_events: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return entity_key(self.department, self.unit_id, self.mode)

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[tuple[str, str], ...]
    ) -> "UnitState":
        data = event.data
        position = data.position
        return cls(
            mode=event.mode,
            department=department,
            unit_id=event.entity_id,
            unit_type=data.unit_type,
            status=data.status,
            station_id=data.station_id,
            crew=data.crew,
            capabilities=tuple(data.capabilities),
            position=(position.lat, position.lon) if position else None,
            incident_id=data.incident_id,
            observed_at=event.event_time,
            event_id=event.id,
            recent_events=recent,
        )

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "mode": self.mode,
                "department": self.department,
                "unit_id": self.unit_id,
                "unit_type": self.unit_type,
                "status": self.status,
                "station_id": self.station_id,
                "crew": self.crew,
                "capabilities": self.capabilities,
                "position": self.position,
                "incident_id": self.incident_id,
                "observed_at": self.observed_at.isoformat(),
                "event_id": self.event_id,
                "recent_events": self.recent_events,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> "UnitState":
        obj = orjson.loads(raw)
        position = obj["position"]
        return cls(
            mode=obj["mode"],
            department=obj["department"],
            unit_id=obj["unit_id"],
            unit_type=obj["unit_type"],
            status=obj["status"],
            station_id=obj["station_id"],
            crew=obj["crew"],
            capabilities=tuple(obj["capabilities"]),
            position=tuple(position) if position else None,
            incident_id=obj["incident_id"],
            observed_at=datetime.fromisoformat(obj["observed_at"]),
            event_id=obj["event_id"],
            recent_events=tuple((event_id, source) for event_id, source in obj["recent_events"]),
        )


def stamp(state: LatestState) -> tuple[datetime, str, str]:
    """(event time, event id, source) of the event a state is from: how states are ordered.
    Its identity is the newest of the state's recent events."""
    return (state.observed_at, state.event_id, state.recent_events[-1][1])


def entity_key(department: str, entity_id: str, mode: str = "actual") -> str:
    """'pirkanmaa/RPI487' for real entities; exercise and test ones are prefixed by their mode."""
    return f"{department}/{entity_id}" if mode == "actual" else f"{mode}:{department}/{entity_id}"


class LatestStore(Generic[S]):
    """Each entity's latest state, plus the keys changed since the last take_changes()."""

    state_class: ClassVar[type]

    def __init__(self) -> None:
        self.states: dict[str, S] = {}
        self._changed: set[str] = set()

    def __len__(self) -> int:
        return len(self.states)

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        return None

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = entity_key(department, event.entity_id, event.mode)
        current = self.states.get(key)
        identity = (event.id, event.source)
        recent: tuple[tuple[str, str], ...] = ()
        if current is not None:
            if identity in current.recent_events:
                return Outcome.DUPLICATE
            if (event.event_time, event.id, event.source) <= stamp(current):
                return Outcome.STALE
            recent = current.recent_events[-(DEDUP_WINDOW - 1) :]
        self.states[key] = self.state_class.from_event(department, event, (*recent, identity))
        self._changed.add(key)
        return Outcome.ACCEPTED

    def forget(self, key: str) -> None:
        self.states.pop(key, None)
        self._changed.discard(key)

    def take_changes(self) -> list[S]:
        """States changed since the last call: what the changelog must be told."""
        changed = [self.states[key] for key in self._changed]
        self._changed.clear()
        return changed

    def restore(self, raw: bytes) -> None:
        """Take a changelog record unless the entity's state here is newer.

        The changelog is read in order, but after a partition moves, a late write
        of its previous owner may follow the new owner's: newest still wins.
        """
        state = self.state_class.from_json(raw)
        current = self.states.get(state.key)
        if current is None or stamp(state) > stamp(current):
            self.states[state.key] = state


class UnitStore(LatestStore[UnitState]):
    state_class = UnitState

    @property
    def units(self) -> dict[str, UnitState]:
        return self.states
