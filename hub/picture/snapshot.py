"""The capability snapshot from the hub's states: pure functions, per schemas/capability/v2.json.

A snapshot has the real picture (mode actual) per department and nationally, and
the exercise and test pictures apart from it, so that no drill ever counts as
real capability. Each family adds its part to every department's view and to the
national view (pelastus_hub.families); the snapshot says how fresh each family's
data is, and flags departments gone silent.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pelastus_hub.families.base import Family, Holdings
from pelastus_hub.picture.freshness import age, latest_text, least, newest

SNAPSHOT_SCHEMA = "fi.pelastus.capability.v2"
MODES = ("actual", "exercise", "test")


def snapshot(
    states: Mapping[str, Iterable[Any]],
    families: Iterable[Family],
    departments: Iterable[str],
    sequence: int,
    now: datetime,
    stale_after_seconds: float,
) -> dict[str, Any]:
    """`states`: each family's, by family name. Every registry department is in the real
    picture, with zeros until it reports; in the exercise and test pictures, the
    departments that have any of that mode."""
    families = list(families)
    codes = sorted(departments)
    held: dict[str, dict[str, dict[str, list[Any]]]] = {mode: {} for mode in MODES}
    for family in families:
        for state in states.get(family.name, ()):
            if state.department in codes:
                holdings = held[state.mode].setdefault(state.department, {})
                holdings.setdefault(family.name, []).append(state)
    document: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "sequence": sequence,
        "generated_at": now.isoformat(),
        "stale_after_seconds": stale_after_seconds,
    }
    for mode in MODES:
        shown = codes if mode == "actual" else sorted(held[mode])
        views = {
            code: department_view(held[mode].get(code, {}), families, now, stale_after_seconds)
            for code in shown
        }
        picture = {"national": national_view(views, families), "departments": views}
        if mode == "actual":
            document.update(picture)
        else:
            document[mode] = picture
    return document


def department_view(
    held: Holdings, families: Sequence[Family], now: datetime, stale_after: float
) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for family in families:
        if family.picture is not None:
            _place(view, family.picture.key, family.picture.department(held, now))
    last = {family.name: family.last_event_time(held.get(family.name, ())) for family in families}
    view["freshness"] = {name: age(time, now) for name, time in last.items()}
    latest = newest(last.values())
    # Silent beyond the threshold in every family, or never heard from at all.
    view["stale"] = latest is None or (now - latest).total_seconds() > stale_after
    return view


def national_view(
    departments: dict[str, dict[str, Any]], families: Sequence[Family]
) -> dict[str, Any]:
    """The departments' views summed, family by family; freshness is the newest of any
    department's."""
    stale = sorted(code for code, view in departments.items() if view["stale"])
    view: dict[str, Any] = {}
    for family in families:
        part = family.picture
        if part is not None:
            parts = {code: _part(v, part.key) for code, v in departments.items()}
            _place(view, part.key, part.national(parts, stale))
    view["freshness"] = {
        family.name: {
            "last_event_time": latest_text(
                v["freshness"][family.name]["last_event_time"] for v in departments.values()
            ),
            "freshness_seconds": least(
                v["freshness"][family.name]["freshness_seconds"] for v in departments.values()
            ),
        }
        for family in families
    }
    view["stale_departments"] = stale
    return view


def _place(view: dict[str, Any], key: str | None, part: dict[str, Any]) -> None:
    if key is None:
        view.update(part)
    else:
        view[key] = part


def _part(view: dict[str, Any], key: str | None) -> dict[str, Any]:
    return view if key is None else view[key]
