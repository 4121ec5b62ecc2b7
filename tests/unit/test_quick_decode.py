"""The quick decoder accepts only what the unit-status model accepts, with the same values,
and accepts the common case: checked on the examples, on generated mutations of them, on
raw JSON the generators do not write, and on simulated traffic."""

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pelastus_hub.contract import quick_decode
from pelastus_hub.contract.envelope import UnitStatusEvent
from pelastus_hub.contract.quick_decode import decode_unit_status
from pelastus_hub.contract.registry import Registry
from pelastus_hub.tools.simulator import generate
from tests.unit.helpers import SCHEMAS
from tests.unit.test_contract_equivalence import (
    ATTRIBUTES,
    ENVELOPE_EXAMPLE,
    VALID,
    mutated,
    values,
)

DATA_FIELDS = ("department", "unit_id", "unit_type", "status", "station_id", "crew")


def agrees(raw: bytes) -> bool:
    """Whether the quick decoder accepted `raw`; when it did, the model must have too, with
    the same values."""
    quick = decode_unit_status(raw)
    if quick is None:
        return False
    try:
        model = UnitStatusEvent.model_validate_json(raw)
    except ValidationError as error:
        pytest.fail(f"the quick decoder accepted what the model refuses: {raw!r}: {error}")
    assert (quick.id, quick.source, quick.mode) == (model.id, model.source, model.mode)
    q, m = quick.data, model.data
    assert [getattr(q, f) for f in DATA_FIELDS] == [getattr(m, f) for f in DATA_FIELDS]
    assert q.capabilities == m.capabilities
    assert q.incident_id == m.incident_id
    assert (q.position and (q.position.lat, q.position.lon)) == (
        m.position and (m.position.lat, m.position.lon)
    )
    assert type(q.observed_at) is datetime
    assert q.observed_at == m.observed_at
    assert q.observed_at.utcoffset() == m.observed_at.utcoffset()
    return True


def structured(data: Any, **attributes: Any) -> bytes:
    return json.dumps(dict(ENVELOPE_EXAMPLE, data=data, **attributes)).encode()


@pytest.mark.parametrize("index", range(len(VALID["unit-status"])))
def test_valid_examples_are_decoded_quickly(index: int) -> None:
    assert agrees(structured(VALID["unit-status"][index]))


@pytest.mark.parametrize("path", sorted((SCHEMAS / "unit-status" / "examples").glob("invalid-*")))
def test_invalid_examples_go_to_the_model(path: Any) -> None:
    assert decode_unit_status(structured(json.loads(path.read_text()))) is None


@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_generated_data_agrees(data: st.DataObject) -> None:
    agrees(structured(data.draw(mutated("unit-status"))))


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(ATTRIBUTES), values, st.booleans())
def test_generated_envelope_attributes_agree(attribute: str, value: Any, delete: bool) -> None:
    event = dict(ENVELOPE_EXAMPLE, **{attribute: value})
    if delete:
        del event[attribute]
    agrees(json.dumps(event).encode())


EXAMPLE = json.dumps(ENVELOPE_EXAMPLE)
DATA = ENVELOPE_EXAMPLE["data"]


@pytest.mark.parametrize(
    ("raw", "quick"),
    [
        # What only the raw text can say: a name given twice (the model takes the last;
        # this decoder checks each as it comes), escapes, white space, what follows.
        (EXAMPLE.replace('"data":', '"data": {"crew": 1}, "data":', 1), False),
        (EXAMPLE.replace('"data":', '"data": {"crew": -1}, "data":', 1), False),
        (EXAMPLE[:-1] + ', "data": {"crew": 1}}', False),
        # A text given twice: both take the last one.
        (
            EXAMPLE.replace(f'"unit_id": "{DATA["unit_id"]}"', '"unit_id": "x", "unit_id": "RPI4"'),
            True,
        ),
        (EXAMPLE.replace(f'"{DATA["unit_id"]}"', '"\\u0052PI487"', 1), True),
        (EXAMPLE.replace(f'"{DATA["unit_id"]}"', '"RPI487\\n"', 1), False),
        (EXAMPLE.replace(f'"{DATA["unit_id"]}"', '"\\ud800"', 1), False),
        (" \n" + EXAMPLE + "\n ", True),
        (EXAMPLE + " x", False),
        (EXAMPLE + "{}", False),
        ("\ufeff" + EXAMPLE, False),
        (EXAMPLE.replace('"crew": 4', '"crew": 4.0'), False),  # the model takes it
        (EXAMPLE.replace('"crew": 4', '"crew": 4e0'), False),
        (EXAMPLE.replace('"crew": 4', '"crew": true'), False),
        (EXAMPLE.replace('"crew": 4', '"crew": 40000000000000000000000'), False),
        (EXAMPLE.replace('"crew": 4', '"crew": NaN'), False),
        # No NaN or Infinity, wherever they are: the validator leaves them to its strict parse.
        (EXAMPLE.replace('"data":', '"data": {"crew": NaN}, "data":', 1), False),
        (EXAMPLE.replace('"crew": 4', '"position": {"lat": NaN, "lon": 23.7}, "crew": 4'), False),
        (
            EXAMPLE.replace('"crew": 4', '"position": {"lat": 61, "lon": -Infinity}, "crew": 4'),
            False,
        ),
        (EXAMPLE.replace('"crew": 4', '"position": {"lat": 61, "lon": 23.7}, "crew": 4'), True),
        (EXAMPLE[:-1] + ', "id": Infinity, "id": "x"}', False),
    ],
)
def test_raw_json_agrees(raw: str, quick: bool) -> None:
    assert '"crew": 4' in EXAMPLE and f'"{DATA["unit_id"]}"' in EXAMPLE
    assert agrees(raw.encode()) is quick


@pytest.mark.parametrize(
    ("observed_at", "quick"),
    [
        ("2026-11-28T07:45:12+02:00", True),
        ("2026-11-28T07:45:12Z", True),
        ("2026-11-28T07:45:12.5-03:30", True),
        ("2026-11-28T07:45:12.123456789Z", True),
        ("2024-02-29T00:00:00Z", True),
        ("2026-02-29T00:00:00Z", False),
        ("2026-02-30T07:45:12Z", False),
        ("2026-11-28T24:00:00Z", False),
        ("2026-11-28T07:45:60Z", False),
        ("2026-11-28T07:45:12z", False),
        ("2026-11-28t07:45:12Z", False),
        ("2026-11-28 07:45:12Z", False),
        ("2026-11-28T07:45:12", False),
        ("2026-11-28T07:45Z", False),
        ("2026-11-28T07:45:12+0200", False),
        ("2026-11-28T07:45:12+02:00\n", False),
        ("2026-11-28T07:45:12.Z", False),
    ],
)
def test_timestamps_agree(observed_at: str, quick: bool) -> None:
    assert agrees(structured(dict(DATA, observed_at=observed_at))) is quick
    assert agrees(structured(DATA, time=observed_at)) is quick


def test_extension_attributes_go_to_the_model() -> None:
    raw = structured(DATA, traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert decode_unit_status(raw) is None
    UnitStatusEvent.model_validate_json(raw)


def test_simulated_valid_traffic_is_decoded_quickly() -> None:
    registry = Registry.load(SCHEMAS)
    start = datetime(2026, 11, 28, 7, tzinfo=UTC)
    traffic = itertools.islice(generate(registry, 7, start, 100.0), 1000)
    valid = [
        m
        for m in traffic
        if m.family == "unit-status"
        and m.kind == "valid"
        and not any(name == "ce_specversion" for name, _ in m.headers)
    ]
    assert len(valid) > 300
    assert all(agrees(m.value) for m in valid)


def test_a_text_refused_is_refused_again() -> None:
    """A rule remembers only the texts it passed: what it refused is checked in full again."""
    for _ in range(2):
        assert agrees(structured(dict(DATA, unit_id="RPI\u00c4"))) is False
        assert agrees(structured(dict(DATA, capabilities=["ok", "Bad"]))) is False
        assert agrees(structured(dict(DATA, station_id="-x"))) is False
    assert agrees(structured(dict(DATA, unit_id="RPI999", capabilities=["ok"])))


def test_the_texts_a_rule_remembers_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quick_decode, "KNOWN_LIMIT", 5)
    units = quick_decode._UNIT.passed
    units.clear()
    for n in range(12):
        assert agrees(structured(dict(DATA, unit_id=f"RPI{n:03}")))
        assert 1 <= len(units) <= 5
    assert "RPI011" in units
