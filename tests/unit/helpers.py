"""Building blocks for unit tests: input records and events without a broker."""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from pelastus_hub.contract.records import Record
from pelastus_hub.families import FAMILIES
from pelastus_hub.picture import snapshot as picture
from pelastus_hub.state.store import Store, StoreContext

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def event(**data_changes: Any) -> dict[str, Any]:
    """The envelope example, with changes to its data."""
    document = json.loads(
        (SCHEMAS / "envelope" / "examples" / "unit-status-structured.json").read_text()
    )
    document["data"].update(data_changes)
    return document


def record(
    document: Any,
    key: bytes | None = b"RPI487",
    department: str = "pirkanmaa",
    family: str = "unit-status",
) -> Record:
    value = document if isinstance(document, bytes | None) else json.dumps(document).encode()
    return Record(f"dept.{department}.{family}", key, value)


def example_event(family: str, example: str, **data_changes: Any) -> dict[str, Any]:
    """An event of any family: the envelope example around one of the family's examples."""
    data = json.loads((SCHEMAS / family / "examples" / f"{example}.json").read_text())
    data.update(data_changes)
    return dict(event(), type=f"fi.pelastus.{family}.v1", data=data)


def opened(**data_changes: Any) -> dict[str, Any]:
    return example_event("incident", "valid-opened", **data_changes)


def incident_record(document: Any, key: bytes | None = b"PI-2026-004512") -> Record:
    return record(document, key, family="incident")


def snapshot_of(
    units: Sequence[Any],
    incidents: Sequence[Any],
    stations: Sequence[Any],
    codes: Sequence[str],
    sequence: int,
    now: datetime,
    stale_after: float,
) -> dict[str, Any]:
    """The capability snapshot of these states, with the hub's three families, as published."""
    states = {"unit-status": units, "incident": incidents, "readiness": stations}
    built = picture.snapshot(states, FAMILIES.values(), codes, sequence, now, stale_after)
    return orjson.loads(picture.encode(built))


def new_store(family: str, is_late: Callable[[str, datetime], bool] | None = None) -> Store[Any]:
    return FAMILIES[family].new_store(StoreContext(is_late=is_late))


def encode(family: str, state: Any) -> bytes:
    """A state's changelog record value."""
    return FAMILIES[family].codec.encode(state)


def decode(family: str, raw: bytes) -> Any:
    """A changelog record value of this hub's format read back."""
    codec = FAMILIES[family].codec
    return codec.decode(raw, codec.headers)
