"""National capability from unit states: pure functions, output per schemas/capability/v1.json."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.contracts.unit_status import UNIT_STATUSES
from hub.state import UnitState

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
SNAPSHOT_SCHEMA = "fi.pelastus.capability.v1"


def capability(units: Iterable[UnitState], now: datetime) -> dict[str, Any]:
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
    in_service = classes["available"] + classes["committed"]
    return {
        "units": sum(classes.values()),
        "units_by_type": dict(sorted(by_type.items())),
        "units_by_status": by_status,
        "available": classes["available"],
        "committed": classes["committed"],
        "out_of_service": classes["out_of_service"],
        "crew_available": crew_available,
        "strain": round(classes["committed"] / in_service, 4) if in_service else None,
        "last_event_time": last_event.isoformat() if last_event else None,
        "freshness_seconds": round((now - last_event).total_seconds(), 3) if last_event else None,
    }


def snapshot(
    units: Iterable[UnitState], departments: Iterable[str], sequence: int, now: datetime
) -> dict[str, Any]:
    """Every department of the registry, with zero units until it reports.

    Real capability only: units known from exercise or test events are left out.
    """
    grouped: dict[str, list[UnitState]] = {code: [] for code in departments}
    everything: list[UnitState] = []
    for unit in units:
        if unit.mode != "actual":
            continue
        members = grouped.get(unit.department)
        if members is not None:
            members.append(unit)
            everything.append(unit)
    return {
        "schema": SNAPSHOT_SCHEMA,
        "sequence": sequence,
        "generated_at": now.isoformat(),
        "national": capability(everything, now),
        "departments": {code: capability(grouped[code], now) for code in sorted(grouped)},
    }
