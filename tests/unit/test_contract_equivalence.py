"""The pydantic models accept exactly what the JSON Schemas accept.

Checked on the example files and on generated mutations of them, with the
jsonschema library as the reference. JSON Schema patterns are ECMA-262, where
`$` does not match before a final newline; Python's `re` does, so the reference
validator here matches patterns with ECMA semantics.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.validators import extend
from pydantic import ValidationError

from hub.contracts.envelope import Envelope, UnitStatusEvent
from hub.contracts.unit_status import UnitStatusV1
from tests.unit.helpers import SCHEMAS

EXAMPLES = sorted((SCHEMAS / "unit-status" / "examples").glob("*.json"))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not re.search(
        pattern.replace("$", r"\Z"), instance
    ):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = extend(Draft202012Validator, {"pattern": _ecma_pattern})


def reference(path: Path) -> Any:
    return EcmaValidator(json.loads(path.read_text()), format_checker=FormatChecker())


UNIT_STATUS = reference(SCHEMAS / "unit-status" / "v1.0.json")
ENVELOPE = reference(SCHEMAS / "envelope" / "v1.json")


def model_accepts(model: Any, instance: Any) -> bool:
    try:
        model.model_validate(instance)
    except ValidationError:
        return False
    return True


def model_accepts_json(model: Any, instance: Any) -> bool:
    try:
        model.model_validate_json(json.dumps(instance))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_agree_and_are_named_for_their_verdict(path: Path) -> None:
    instance = json.loads(path.read_text())
    expected = path.name.startswith("valid-")
    assert UNIT_STATUS.is_valid(instance) is expected
    assert model_accepts(UnitStatusV1, instance) is expected
    assert model_accepts_json(UnitStatusV1, instance) is expected


def test_there_are_valid_and_invalid_examples() -> None:
    names = [p.name for p in EXAMPLES]
    assert sum(n.startswith("valid-") for n in names) >= 3
    assert sum(n.startswith("invalid-") for n in names) >= 8


VALID = [json.loads(p.read_text()) for p in EXAMPLES if p.name.startswith("valid-")]
FIELDS = sorted(json.loads((SCHEMAS / "unit-status" / "v1.0.json").read_text())["properties"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=40),
    st.sampled_from([3.0, 2.5, -0.0, 90.0, 90.5, -180.0, 1e308, float("inf")]),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "RPI487",
            "RPI487\n",
            "rpi487",
            "R",
            "RPI4870000000000000",
            "pirkanmaa",
            "keski-uusimaa",
            "Pirkanmaa",
            "-lappi",
            "on_scene",
            "busy",
            "rescue_unit",
            "PI-4",
            "PI 4",
            "smoke_diving",
            "2026-11-28T07:45:12+02:00",
            "2026-11-28T07:45:12Z",
            "2026-11-28T07:45:12.123456789Z",
            "2026-11-28T07:45:12",
            "2026-11-28 07:45:12Z",
            "2026-02-30T07:45:12Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T07:45:12+02:00\n",
            "2026-11-28T07:45:12z",
            "٢٠٢٦-11-28T07:45:12Z",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["lat", "lon", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)


@st.composite
def mutated_unit_status(draw: st.DrawFn) -> dict[str, Any]:
    instance = dict(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        field = draw(st.sampled_from(FIELDS))
        if action == "replace":
            instance[field] = draw(values)
        elif action == "delete":
            instance.pop(field, None)
        else:
            instance[draw(st.sampled_from(["colour", "extra", field]))] = draw(values)
    return instance


@settings(max_examples=1500, deadline=None)
@given(mutated_unit_status())
def test_generated_unit_status_cases_agree(instance: dict[str, Any]) -> None:
    expected = UNIT_STATUS.is_valid(instance)
    assert model_accepts(UnitStatusV1, instance) is expected
    assert model_accepts_json(UnitStatusV1, instance) is expected


ENVELOPE_EXAMPLE = json.loads(
    (SCHEMAS / "envelope" / "examples" / "unit-status-structured.json").read_text()
)


ATTRIBUTES = ["specversion", "id", "source", "type", "time", "datacontenttype", "mode", "data"]


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(ATTRIBUTES), values, st.booleans())
def test_generated_envelope_attributes_agree(attribute: str, value: Any, delete: bool) -> None:
    event = dict(ENVELOPE_EXAMPLE, **{attribute: value})
    if delete:
        del event[attribute]
    attributes = {k: v for k, v in event.items() if k != "data"}
    if isinstance(event.get("data"), dict):  # the Envelope model leaves data to the family's
        assert model_accepts(Envelope, attributes) is ENVELOPE.is_valid(event)
    # The worker's fast path: envelope and data in one JSON parse.
    expected = (
        ENVELOPE.is_valid(event)
        and event["type"] == "fi.pelastus.unit-status.v1"
        and UNIT_STATUS.is_valid(event["data"])
    )
    assert model_accepts_json(UnitStatusEvent, event) is expected


@settings(max_examples=500, deadline=None)
@given(mutated_unit_status())
def test_fast_path_agrees_on_generated_data(data: dict[str, Any]) -> None:
    event = dict(ENVELOPE_EXAMPLE, data=data)
    assert model_accepts_json(UnitStatusEvent, event) is UNIT_STATUS.is_valid(data)


def test_envelope_example_is_valid() -> None:
    assert ENVELOPE.is_valid(ENVELOPE_EXAMPLE)
    assert model_accepts(Envelope, {k: v for k, v in ENVELOPE_EXAMPLE.items() if k != "data"})
