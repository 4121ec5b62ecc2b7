"""Changelog records keep restoring as state classes change (pelastus_hub.state.codec).

The golden records in golden/ were written by the hub before records were marked with
their format: they are format 1, and every later hub must still read them.
"""

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson
import pytest

from pelastus_hub.families import FAMILIES
from pelastus_hub.families.unit_status import UnitState
from pelastus_hub.pipeline.outputs import changelog
from pelastus_hub.state.codec import FORMAT_HEADER, StateCodec, StateFormatError
from pelastus_hub.state.store import StoreContext

GOLDEN = Path(__file__).parent / "golden"


def golden(family: str) -> list[bytes]:
    lines = (GOLDEN / f"{family}.format-1.jsonl").read_bytes().splitlines()
    assert lines, f"no golden records of {family}"
    return lines


@pytest.mark.parametrize("family", ["unit-status", "incident", "readiness"])
def test_golden_records_restore_and_are_still_written_the_same(family: str) -> None:
    codec = FAMILIES[family].codec
    store = FAMILIES[family].new_store(StoreContext())
    for raw in golden(family):
        state = codec.decode(raw)  # no header: format 1
        store.restore(state)
        assert codec.encode(state) == raw
    assert len(store) == len(golden(family))


def test_golden_records_read_back_as_they_were_written() -> None:
    units = {s.key: s for s in map(FAMILIES["unit-status"].codec.decode, golden("unit-status"))}
    dispatched = units["pirkanmaa/RPI487"]
    assert (dispatched.status, dispatched.position) == ("dispatched", (61.4978, 23.761))
    assert dispatched.recent_events[-1][0] == "u-2"
    assert units["exercise:pirkanmaa/RPI311"].position is None
    [closed, unopened] = map(FAMILIES["incident"].codec.decode, golden("incident"))
    assert (closed.status, closed.attribute("urgency"), unopened.status) == (
        "closed",
        "A",
        "unopened",
    )
    assert closed.units["RPI487"][1] is not None and unopened.opened is None


@dataclass(slots=True)
class UnitWithCallSign(UnitState):
    call_sign: str | None = None


def test_a_field_added_with_a_default_reads_old_records_without_an_upgrade() -> None:
    codec = StateCodec(UnitWithCallSign)
    old = FAMILIES["unit-status"].codec
    for raw in golden("unit-status"):
        state = codec.decode(raw)
        assert state.call_sign is None
        assert {f.name: getattr(state, f.name) for f in fields(UnitState)} == {
            f.name: getattr(old.decode(raw), f.name) for f in fields(UnitState)
        }


@dataclass(slots=True)
class UnitWithCrewSize:
    """UnitState with `crew` renamed: a change that needs format 2 and an upgrade."""

    mode: str
    department: str
    unit_id: str
    unit_type: str
    status: str
    station_id: str
    crew_size: int
    capabilities: tuple[str, ...]
    position: tuple[float, float] | None
    incident_id: str | None
    observed_at: Any
    event_id: str
    recent_events: tuple[tuple[str, str], ...]


def _rename_crew(obj: dict[str, Any]) -> dict[str, Any]:
    obj["crew_size"] = obj.pop("crew")
    return obj


def test_a_renamed_field_reads_old_records_through_the_upgrade() -> None:
    codec = StateCodec(UnitWithCrewSize, version=2, upgrades={1: _rename_crew})
    for raw in golden("unit-status"):
        state = codec.decode(raw)
        assert state.crew_size == orjson.loads(raw)["crew"]
        assert codec.decode(codec.encode(state), codec.headers) == state


def test_a_record_of_a_newer_format_is_refused_with_a_clear_error() -> None:
    newer = StateCodec(UnitWithCrewSize, version=2, upgrades={1: _rename_crew})
    raw = newer.encode(newer.decode(golden("unit-status")[0]))
    with pytest.raises(StateFormatError, match="format 2: this hub reads formats up to 1"):
        FAMILIES["unit-status"].codec.decode(raw, newer.headers)


def test_a_format_without_its_upgrade_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match=r"no upgrade from format \[1\]"):
        StateCodec(UnitWithCrewSize, version=2)


def test_changelog_records_carry_their_format() -> None:
    family = FAMILIES["readiness"]
    states = [family.codec.decode(raw) for raw in golden("readiness")]
    for record in changelog(family, states):
        assert record.topic == "hub.state.readiness"
        assert dict(record.headers) == {FORMAT_HEADER: b"1"}
        assert family.codec.decode(record.value, record.headers).key == record.key.decode()
