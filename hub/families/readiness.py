"""Latest readiness per station, decided by event time like unit states."""

from dataclasses import dataclass
from datetime import datetime

import orjson
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.state.store import LatestStore, entity_key


@dataclass(slots=True)
class StationReadiness:
    mode: str
    department: str
    station_id: str
    firefighters: int
    officers: int
    ems: int
    volunteers_available: int
    observed_at: datetime
    event_id: str
    recent_events: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        return entity_key(self.department, self.station_id, self.mode)

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[tuple[str, str], ...]
    ) -> "StationReadiness":
        data = event.data
        return cls(
            mode=event.mode,
            department=department,
            station_id=event.entity_id,
            firefighters=data.on_duty.firefighters,
            officers=data.on_duty.officers,
            ems=data.on_duty.ems,
            volunteers_available=data.volunteers_available,
            observed_at=event.event_time,
            event_id=event.id,
            recent_events=recent,
        )

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # a dataclass; the datetime as RFC 3339

    @classmethod
    def from_json(cls, raw: bytes) -> "StationReadiness":
        obj = orjson.loads(raw)
        obj["observed_at"] = datetime.fromisoformat(obj["observed_at"])
        obj["recent_events"] = tuple((i, s) for i, s in obj["recent_events"])
        return cls(**obj)


class ReadinessStore(LatestStore[StationReadiness]):
    state_class = StationReadiness
