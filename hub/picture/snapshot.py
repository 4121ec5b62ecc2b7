"""The capability snapshot from the hub's states: pure functions, per schemas/capability/v2.json.

A snapshot has the real picture (mode actual) per department and nationally, and
the exercise and test pictures apart from it, so that no drill ever counts as
real capability. Each picture joins three families: units by type and status,
open incidents with the units committed to them, and personnel ready at stations;
and says how fresh each family's data is, flagging departments gone silent.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pelastus_hub.contract.unit_status import UNIT_STATUSES
from pelastus_hub.families.incident import IncidentState
from pelastus_hub.families.readiness import StationReadiness
from pelastus_hub.families.unit_status import UnitState

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
URGENCIES = ("A", "B", "C", "D")
ROLES = ("firefighters", "officers", "ems")
SNAPSHOT_SCHEMA = "fi.pelastus.capability.v2"
MODES = ("actual", "exercise", "test")


@dataclass
class Holdings:
    """What the hub knows of one department in one mode."""

    units: list[UnitState] = field(default_factory=list)
    incidents: list[IncidentState] = field(default_factory=list)
    stations: list[StationReadiness] = field(default_factory=list)


def snapshot(
    units: Iterable[UnitState],
    incidents: Iterable[IncidentState],
    stations: Iterable[StationReadiness],
    departments: Iterable[str],
    sequence: int,
    now: datetime,
    stale_after_seconds: float,
) -> dict[str, Any]:
    """Every registry department in the real picture, with zeros until it reports; in the
    exercise and test pictures, the departments that have any of that mode."""
    codes = sorted(departments)
    held: dict[str, dict[str, Holdings]] = {mode: {} for mode in MODES}
    for kind, entities in (("units", units), ("incidents", incidents), ("stations", stations)):
        for entity in entities:
            if entity.department in codes:
                holdings = held[entity.mode].setdefault(entity.department, Holdings())
                getattr(holdings, kind).append(entity)
    document: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "sequence": sequence,
        "generated_at": now.isoformat(),
        "stale_after_seconds": stale_after_seconds,
    }
    for mode in MODES:
        shown = codes if mode == "actual" else sorted(held[mode])
        views = {
            code: department_view(held[mode].get(code, Holdings()), now, stale_after_seconds)
            for code in shown
        }
        picture = {"national": national_view(views), "departments": views}
        if mode == "actual":
            document.update(picture)
        else:
            document[mode] = picture
    return document


def department_view(holdings: Holdings, now: datetime, stale_after: float) -> dict[str, Any]:
    view = capability(holdings.units, now)
    view["incidents"] = incident_view(holdings.incidents, holdings.units)
    view["readiness"] = readiness_view(holdings.stations)
    freshness = {
        "unit-status": _newest(u.observed_at for u in holdings.units),
        "incident": _newest(i.last_event_at for i in holdings.incidents),
        "readiness": _newest(s.observed_at for s in holdings.stations),
    }
    view["freshness"] = {family: _age(last, now) for family, last in freshness.items()}
    newest = _newest(freshness.values())
    # Silent beyond the threshold in every family, or never heard from at all.
    view["stale"] = newest is None or (now - newest).total_seconds() > stale_after
    return view


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
        **_age(last_event, now),
    }


def incident_view(incidents: Iterable[IncidentState], units: Iterable[UnitState]) -> dict[str, Any]:
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
        attributes = {name: incident.attribute(name) for name in ("incident_type", "urgency")}
        urgency[attributes["urgency"] or "unknown"] += 1
        types[attributes["incident_type"] or "unknown"] += 1
        listed.append(
            {
                "incident_id": incident.incident_id,
                "status": incident.status,
                **attributes,
                "municipality_code": incident.attribute("municipality_code"),
                "risk_class": incident.attribute("risk_class"),
                "opened_at": incident.opened[0].isoformat() if incident.opened else None,
                "units_committed": sorted(committed.get(incident.incident_id, [])),
            }
        )
    listed.sort(key=lambda entry: entry["incident_id"])
    return {
        "open": len(listed),
        "by_urgency": {u: urgency[u] for u in (*URGENCIES, "unknown")},
        "by_type": dict(sorted(types.items())),
        "open_incidents": listed,
    }


def readiness_view(stations: Iterable[StationReadiness]) -> dict[str, int]:
    view = dict.fromkeys(("stations", *ROLES, "volunteers_available"), 0)
    for station in stations:
        view["stations"] += 1
        view["firefighters"] += station.firefighters
        view["officers"] += station.officers
        view["ems"] += station.ems
        view["volunteers_available"] += station.volunteers_available
    return view


def national_view(departments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The departments' views summed; freshness is the newest of any department's."""
    views = list(departments.values())
    by_type: dict[str, dict[str, int]] = {}
    for view in views:
        for unit_type, statuses in view["units_by_type"].items():
            totals = by_type.setdefault(unit_type, dict.fromkeys(UNIT_STATUSES, 0))
            for status, count in statuses.items():
                totals[status] += count
    classes = {c: sum(v[c] for v in views) for c in STATUS_CLASSES}
    in_service = classes["available"] + classes["committed"]
    incidents = [v["incidents"] for v in views]
    types: Counter[str] = Counter()
    for view in incidents:
        types.update(view["by_type"])
    stale = sorted(code for code, view in departments.items() if view["stale"])
    return {
        "units": sum(v["units"] for v in views),
        "units_by_type": dict(sorted(by_type.items())),
        "units_by_status": {s: sum(v["units_by_status"][s] for v in views) for s in UNIT_STATUSES},
        **classes,
        "crew_available": sum(v["crew_available"] for v in views),
        "strain": round(classes["committed"] / in_service, 4) if in_service else None,
        "last_event_time": _latest_text(v["last_event_time"] for v in views),
        "freshness_seconds": _least(v["freshness_seconds"] for v in views),
        "incidents": {
            "open": sum(v["open"] for v in incidents),
            "by_urgency": {
                u: sum(v["by_urgency"][u] for v in incidents) for u in (*URGENCIES, "unknown")
            },
            "by_type": dict(sorted(types.items())),
        },
        "readiness": {
            key: sum(v["readiness"][key] for v in views)
            for key in ("stations", *ROLES, "volunteers_available")
        },
        "freshness": {
            family: {
                "last_event_time": _latest_text(
                    v["freshness"][family]["last_event_time"] for v in views
                ),
                "freshness_seconds": _least(
                    v["freshness"][family]["freshness_seconds"] for v in views
                ),
            }
            for family in ("unit-status", "incident", "readiness")
        },
        "stale_departments": stale,
        "units_from_stale_departments": sum(departments[code]["units"] for code in stale),
    }


def _newest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def _age(last: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "last_event_time": last.isoformat() if last else None,
        "freshness_seconds": round((now - last).total_seconds(), 3) if last else None,
    }


def _latest_text(times: Iterable[str | None]) -> str | None:
    # Compared as times, not as text: departments may report in different UTC offsets.
    parsed = [datetime.fromisoformat(t) for t in times if t is not None]
    return max(parsed).isoformat() if parsed else None


def _least(values: Iterable[float | None]) -> float | None:
    return min((v for v in values if v is not None), default=None)
