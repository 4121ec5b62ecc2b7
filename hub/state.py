"""Latest state per unit, decided by event time, and its changelog encoding.

An event replaces a unit's state only when it is newer: (event time, event id)
greater than the current one, so the result does not depend on arrival order.
A unit remembers the identities of its last DEDUP_WINDOW accepted events; a
redelivery of any of them is a duplicate and changes nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson

from hub.ingest import ValidEvent

DEDUP_WINDOW = 32


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DEAD_LETTERED = "dead_lettered"


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
        return unit_key(self.department, self.unit_id, self.mode)

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


def unit_key(department: str, unit_id: str, mode: str = "actual") -> str:
    """'pirkanmaa/RPI487' for real units; exercise and test ones are prefixed by their mode."""
    return f"{department}/{unit_id}" if mode == "actual" else f"{mode}:{department}/{unit_id}"


class UnitStore:
    """The units' latest states, plus the keys changed since the last take_changes()."""

    def __init__(self) -> None:
        self.units: dict[str, UnitState] = {}
        self._changed: set[str] = set()

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = unit_key(department, event.entity_id, event.mode)
        current = self.units.get(key)
        identity = (event.id, event.source)
        recent: tuple[tuple[str, str], ...] = ()
        if current is not None:
            if identity in current.recent_events:
                return Outcome.DUPLICATE
            if (event.event_time, event.id) <= (current.observed_at, current.event_id):
                return Outcome.STALE
            recent = current.recent_events[-(DEDUP_WINDOW - 1) :]
        data = event.data
        position = data.position
        self.units[key] = UnitState(
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
            recent_events=(*recent, identity),
        )
        self._changed.add(key)
        return Outcome.ACCEPTED

    def take_changes(self) -> list[UnitState]:
        """States changed since the last call: what the changelog must be told."""
        changed = [self.units[key] for key in self._changed]
        self._changed.clear()
        return changed

    def restore(self, raw: bytes) -> None:
        """Take a changelog record unless the unit's state here is newer.

        The changelog is read in order, but after a partition moves, a late write
        of its previous owner may follow the new owner's: newest still wins.
        """
        state = UnitState.from_json(raw)
        current = self.units.get(state.key)
        if current is None or (state.observed_at, state.event_id) > (
            current.observed_at,
            current.event_id,
        ):
            self.units[state.key] = state
