"""Unit status: each unit's latest status, and the units by type and status in the picture."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pelastus_hub.contract.envelope import UnitStatusEvent
from pelastus_hub.contract.quick_decode import decode_unit_status
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.contract.unit_status import UNIT_STATUSES, UnitStatusV1
from pelastus_hub.families.base import Family, Holdings, PicturePart
from pelastus_hub.state.codec import StateCodec
from pelastus_hub.state.freshness import Freshness, freshness
from pelastus_hub.state.store import Identity, LatestStore, Observed, entity_key

NAME = "unit-status"
STATUS_CLASS = {
    "available_at_station": "available",
    "available": "available",
    "reserved": "committed",
    "dispatched": "committed",
    "en_route": "committed",
    "on_scene": "committed",
    "out_of_service": "out_of_service",
}
STATUS_CLASSES = ("available", "committed", "out_of_service")


# Not frozen: a frozen dataclass's __init__ costs several times more, on the hot path.
# States are replaced, never changed in place.
@dataclass(slots=True)
class UnitState(Observed):
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
    # (id, source) of the last accepted events, oldest first.
    recent_events: tuple[Identity, ...]

    @property
    def key(self) -> str:
        return entity_key(self.department, self.unit_id, self.mode)

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[Identity, ...]
    ) -> "UnitState":
        data = event.data
        position = data.position
        # By position, in the order of the fields: a third of the time of keywords, per record.
        return cls(
            event.mode,
            department,
            event.entity_id,
            data.unit_type,
            data.status,
            data.station_id,
            data.crew,
            tuple(data.capabilities),
            (position.lat, position.lon) if position else None,
            data.incident_id,
            event.event_time,
            event.id,
            recent,
        )


@dataclass(slots=True)
class Units:
    """A department's units: their fields sit in its view itself, as in the first snapshots."""

    units: int
    units_by_type: dict[str, dict[str, int]]
    units_by_status: dict[str, int]
    available: int
    committed: int
    out_of_service: int
    crew_available: int
    strain: float | None
    last_event_time: datetime | None
    freshness_seconds: float | None


@dataclass(slots=True)
class NationalUnits(Units):
    units_from_stale_departments: int


def capability(units: Iterable[UnitState], now: datetime) -> Units:
    """A department's units by type and status, its strain and how fresh its unit data is."""
    by_type: dict[str, dict[str, int]] = {}
    by_status = dict.fromkeys(UNIT_STATUSES, 0)
    classes = dict.fromkeys(STATUS_CLASSES, 0)
    crew_available = 0
    last_event: datetime | None = None
    for unit in units:
        status_class = STATUS_CLASS[unit.status]
        type_counts = by_type.get(unit.unit_type)
        if type_counts is None:
            type_counts = by_type[unit.unit_type] = dict.fromkeys(UNIT_STATUSES, 0)
        type_counts[unit.status] += 1
        by_status[unit.status] += 1
        classes[status_class] += 1
        if status_class == "available":
            crew_available += unit.crew
        if last_event is None or unit.observed_at > last_event:
            last_event = unit.observed_at
    return Units(
        sum(classes.values()),
        dict(sorted(by_type.items())),
        by_status,
        **classes,
        crew_available=crew_available,
        strain=_strain(classes),
        **_fresh(freshness(last_event, now)),
    )


def _strain(classes: dict[str, int]) -> float | None:
    in_service = classes["available"] + classes["committed"]
    return round(classes["committed"] / in_service, 4) if in_service else None


def _fresh(fresh: Freshness) -> dict[str, Any]:
    return {
        "last_event_time": fresh.last_event_time,
        "freshness_seconds": fresh.freshness_seconds,
    }


def _department(held: Holdings, now: datetime) -> Units:
    return capability(held.get(NAME, ()), now)


def _national(parts: Mapping[str, Units], stale: Sequence[str]) -> NationalUnits:
    views = list(parts.values())
    by_type: dict[str, dict[str, int]] = {}
    for view in views:
        for unit_type, statuses in view.units_by_type.items():
            totals = by_type.setdefault(unit_type, dict.fromkeys(UNIT_STATUSES, 0))
            for status, count in statuses.items():
                totals[status] += count
    classes = {c: sum(getattr(v, c) for v in views) for c in STATUS_CLASSES}
    fresh = Freshness.newest(Freshness(v.last_event_time, v.freshness_seconds) for v in views)
    return NationalUnits(
        sum(v.units for v in views),
        dict(sorted(by_type.items())),
        {s: sum(v.units_by_status[s] for v in views) for s in UNIT_STATUSES},
        **classes,
        crew_available=sum(v.crew_available for v in views),
        strain=_strain(classes),
        **_fresh(fresh),
        units_from_stale_departments=sum(parts[code].units for code in stale),
    )


FAMILY = Family(
    name=NAME,
    models={1: UnitStatusV1},
    event_model=UnitStatusEvent,
    quick_decode=decode_unit_status,
    key_field="unit_id",
    time_field="observed_at",
    new_store=lambda context: LatestStore(UnitState),
    codec=StateCodec(UnitState),
    picture=PicturePart(key=None, department=_department, national=_national),
)
