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

from pelastus_hub.contract.envelope import Envelope
from pelastus_hub.families import FAMILIES
from tests.unit.helpers import SCHEMAS

EXAMPLES = [
    (family, path)
    for family in FAMILIES
    for path in sorted((SCHEMAS / family / "examples").glob("*.json"))
]


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not re.search(
        pattern.replace("$", r"\Z"), instance
    ):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = extend(Draft202012Validator, {"pattern": _ecma_pattern})


def reference(path: Path) -> Any:
    return EcmaValidator(json.loads(path.read_text()), format_checker=FormatChecker())


def newest_revision(family: str) -> Path:
    return max((SCHEMAS / family).glob("v1.*.json"), key=lambda p: int(p.stem.split(".")[1]))


REFERENCES = {family: reference(newest_revision(family)) for family in FAMILIES}
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


@pytest.mark.parametrize(("family", "path"), EXAMPLES, ids=lambda p: getattr(p, "name", p))
def test_examples_agree_and_are_named_for_their_verdict(family: str, path: Path) -> None:
    instance = json.loads(path.read_text())
    expected = path.name.startswith("valid-")
    model = FAMILIES[family].models[1]
    assert REFERENCES[family].is_valid(instance) is expected
    assert model_accepts(model, instance) is expected
    assert model_accepts_json(model, instance) is expected


@pytest.mark.parametrize("family", FAMILIES)
def test_there_are_valid_and_invalid_examples(family: str) -> None:
    names = [p.name for f, p in EXAMPLES if f == family]
    assert sum(n.startswith("valid-") for n in names) >= 2
    assert sum(n.startswith("invalid-") for n in names) >= 5


VALID = {
    family: [json.loads(p.read_text()) for f, p in EXAMPLES if f == family and "/valid-" in str(p)]
    for family in FAMILIES
}
FIELDS = {
    family: sorted(json.loads(newest_revision(family).read_text())["properties"])
    for family in FAMILIES
}

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
            # incident and readiness
            "opened",
            "unit_dispatched",
            "unit_on_scene",
            "closed",
            "reopened",
            "building_fire",
            "automatic_fire_alarm",
            "A",
            "E",
            "a",
            "I",
            "IV",
            "V",
            "837",
            "37",
            "0837",
            "PI-2026-004512",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["lat", "lon", "x", "firefighters", "officers", "ems"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, family: str) -> dict[str, Any]:
    instance = dict(draw(st.sampled_from(VALID[family])))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        field = draw(st.sampled_from(FIELDS[family]))
        if action == "replace":
            instance[field] = draw(values)
        elif action == "delete":
            instance.pop(field, None)
        else:
            instance[draw(st.sampled_from(["colour", "extra", field]))] = draw(values)
    return instance


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_generated_cases_agree(family: str, data: st.DataObject) -> None:
    instance = data.draw(mutated(family))
    expected = REFERENCES[family].is_valid(instance)
    model = FAMILIES[family].models[1]
    assert model_accepts(model, instance) is expected
    assert model_accepts_json(model, instance) is expected


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
        and REFERENCES["unit-status"].is_valid(event["data"])
    )
    assert model_accepts_json(FAMILIES["unit-status"].event_model, event) is expected


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_path_agrees_on_generated_data(family: str, data: st.DataObject) -> None:
    instance = data.draw(mutated(family))
    event = dict(ENVELOPE_EXAMPLE, type=f"fi.pelastus.{family}.v1", data=instance)
    expected = REFERENCES[family].is_valid(instance)
    assert model_accepts_json(FAMILIES[family].event_model, event) is expected


def test_envelope_example_is_valid() -> None:
    assert ENVELOPE.is_valid(ENVELOPE_EXAMPLE)
    assert model_accepts(Envelope, {k: v for k, v in ENVELOPE_EXAMPLE.items() if k != "data"})
