"""Station readiness: each station's latest readiness, and personnel ready in the picture."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pelastus_hub.contract.envelope import ReadinessEvent
from pelastus_hub.contract.readiness import ReadinessV1
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.families.base import Family, Holdings, PicturePart
from pelastus_hub.state.codec import StateCodec
from pelastus_hub.state.store import Identity, LatestStore, Observed, entity_key

NAME = "readiness"
COUNTS = ("stations", "firefighters", "officers", "ems", "volunteers_available")


@dataclass(slots=True)
class StationReadiness(Observed):
    mode: str
    department: str
    station_id: str
    firefighters: int
    officers: int
    ems: int
    volunteers_available: int
    observed_at: datetime
    event_id: str
    recent_events: tuple[Identity, ...]

    @property
    def key(self) -> str:
        return entity_key(self.department, self.station_id, self.mode)

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[Identity, ...]
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


@dataclass(slots=True)
class Readiness:
    """Stations reporting and the personnel ready at them."""

    stations: int = 0
    firefighters: int = 0
    officers: int = 0
    ems: int = 0
    volunteers_available: int = 0


def readiness_view(stations: Iterable[StationReadiness]) -> Readiness:
    view = Readiness()
    for station in stations:
        view.stations += 1
        view.firefighters += station.firefighters
        view.officers += station.officers
        view.ems += station.ems
        view.volunteers_available += station.volunteers_available
    return view


def _department(held: Holdings, now: datetime) -> Readiness:
    return readiness_view(held.get(NAME, ()))


def _national(parts: Mapping[str, Readiness], stale: Sequence[str]) -> Readiness:
    return Readiness(**{key: sum(getattr(part, key) for part in parts.values()) for key in COUNTS})


FAMILY = Family(
    name=NAME,
    models={1: ReadinessV1},
    event_model=ReadinessEvent,
    key_field="station_id",
    time_field="observed_at",
    new_store=lambda context: LatestStore(StationReadiness),
    codec=StateCodec(StationReadiness),
    picture=PicturePart(key="readiness", department=_department, national=_national),
)
