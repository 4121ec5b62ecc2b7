"""Each unit's latest status."""

from dataclasses import dataclass
from datetime import datetime

import orjson
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.state.store import LatestStore, entity_key


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


class UnitStore(LatestStore[UnitState]):
    state_class = UnitState

    @property
    def units(self) -> dict[str, UnitState]:
        return self.states
