"""The capability snapshot from the hub's states: typed, and written once, per
schemas/capability/v2.json.

A snapshot has the real picture (mode actual) per department and nationally, and
the exercise and test pictures apart from it, so that no drill ever counts as
real capability. Each family adds its part to every department's view and to the
national view (pelastus_hub.families); the snapshot says how fresh each family's
data is, and flags departments gone silent. `encode` lays it out as the schema
does, in one pass of orjson.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pelastus_hub.families.base import Family, Holdings
from pelastus_hub.state.freshness import Freshness, freshness, newest

SNAPSHOT_SCHEMA = "fi.pelastus.capability.v2"
MODES = ("actual", "exercise", "test")


@dataclass(slots=True)
class DepartmentView:
    parts: dict[str, Any]  # each family's part, by family name
    freshness: dict[str, Freshness]
    stale: bool


@dataclass(slots=True)
class NationalView:
    parts: dict[str, Any]
    freshness: dict[str, Freshness]
    stale_departments: list[str]


@dataclass(slots=True)
class Picture:
    national: NationalView
    departments: dict[str, DepartmentView]


@dataclass(slots=True)
class Snapshot:
    sequence: int
    generated_at: datetime
    stale_after_seconds: float
    pictures: dict[str, Picture]  # by mode
    # Family name -> where its part sits in a view; None: among the view's own fields.
    layout: dict[str, str | None]

    @property
    def actual(self) -> Picture:
        return self.pictures["actual"]


def snapshot(
    states: Mapping[str, Iterable[Any]],
    families: Iterable[Family],
    departments: Iterable[str],
    sequence: int,
    now: datetime,
    stale_after_seconds: float,
) -> Snapshot:
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
    pictures = {}
    for mode in MODES:
        shown = codes if mode == "actual" else sorted(held[mode])
        views = {
            code: department_view(held[mode].get(code, {}), families, now, stale_after_seconds)
            for code in shown
        }
        pictures[mode] = Picture(national_view(views, families), views)
    layout = {f.name: f.picture.key for f in families if f.picture is not None}
    return Snapshot(sequence, now, stale_after_seconds, pictures, layout)


def department_view(
    held: Holdings, families: Sequence[Family], now: datetime, stale_after: float
) -> DepartmentView:
    parts = {
        family.name: family.picture.department(held, now)
        for family in families
        if family.picture is not None
    }
    last = {family.name: family.last_event_time(held.get(family.name, ())) for family in families}
    latest = newest(last.values())
    # Silent beyond the threshold in every family, or never heard from at all.
    stale = latest is None or (now - latest).total_seconds() > stale_after
    return DepartmentView(parts, {name: freshness(t, now) for name, t in last.items()}, stale)


def national_view(
    departments: Mapping[str, DepartmentView], families: Sequence[Family]
) -> NationalView:
    """The departments' views summed, family by family; freshness is the newest of any
    department's."""
    stale = sorted(code for code, view in departments.items() if view.stale)
    parts = {
        family.name: family.picture.national(
            {code: view.parts[family.name] for code, view in departments.items()}, stale
        )
        for family in families
        if family.picture is not None
    }
    fresh = {
        family.name: Freshness.newest(v.freshness[family.name] for v in departments.values())
        for family in families
    }
    return NationalView(parts, fresh, stale)


def encode(snapshot: Snapshot) -> bytes:
    """The snapshot as national.capability carries it and the API serves it."""
    return orjson.dumps(document(snapshot))


def document(snapshot: Snapshot) -> dict[str, Any]:
    """The schema's layout, one level deep: orjson writes the parts as they are."""
    laid_out: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "sequence": snapshot.sequence,
        "generated_at": snapshot.generated_at,
        "stale_after_seconds": snapshot.stale_after_seconds,
    }
    for mode, picture in snapshot.pictures.items():
        shown = {
            "national": _view(picture.national, snapshot.layout),
            "departments": {
                code: _view(view, snapshot.layout) for code, view in picture.departments.items()
            },
        }
        if mode == "actual":
            laid_out.update(shown)
        else:
            laid_out[mode] = shown
    return laid_out


def _view(view: DepartmentView | NationalView, layout: Mapping[str, str | None]) -> dict[str, Any]:
    laid_out: dict[str, Any] = {}
    for name, part in view.parts.items():
        key = layout[name]
        if key is None:
            laid_out.update({f: getattr(part, f) for f in part.__dataclass_fields__})
        else:
            laid_out[key] = part
    laid_out["freshness"] = view.freshness
    if isinstance(view, DepartmentView):
        laid_out["stale"] = view.stale
    else:
        laid_out["stale_departments"] = view.stale_departments
    return laid_out
