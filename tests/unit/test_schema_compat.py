"""Schema evolution rules (hub/tools/schema_compat/): what breaks a major version, what does not."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from pelastus_hub.tools.schema_compat import check_schemas, compare, run_check

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# The unit-status schema moves from v1.json to v1.0.json; whichever exists is the base.
BASE_PATH = next(
    path
    for path in (SCHEMAS / "unit-status" / "v1.0.json", SCHEMAS / "unit-status" / "v1.json")
    if path.exists()
)
BASE: dict[str, Any] = json.loads(BASE_PATH.read_text(encoding="utf-8"))

Change = Callable[[dict], Any]
POSITION = ("properties", "position", "anyOf", 0)  # the object branch of the nullable position


def at(schema: Any, path: tuple) -> Any:
    for key in path:
        schema = schema[key]
    return schema


def update(path: tuple, **values: Any) -> Change:
    return lambda schema: at(schema, path).update(values)


def remove(path: tuple, item: Any) -> Change:
    """Removes a list item or a dict key."""

    def change(schema: dict) -> None:
        node = at(schema, path)
        if isinstance(node, list):
            node.remove(item)
        else:
            del node[item]

    return change


def both(*changes: Change) -> Change:
    return lambda schema: [change(schema) for change in changes]


def prop(name: str) -> tuple:
    return ("properties", name)


def position_into_defs(schema: dict) -> None:
    schema["$defs"] = {"position": schema["properties"].pop("position")}
    schema["properties"]["position"] = {"$ref": "#/$defs/position"}


def evolve(change: Change, schema: dict | None = None) -> dict:
    """A changed deep copy of the schema (the base by default)."""
    changed = copy.deepcopy(BASE if schema is None else schema)
    change(changed)
    return changed


def case(name: str, new: Change, pointer: str, rule: str | None = None, old: Change | None = None):
    """A breaking change: `old` prepares the base, `new` changes that; `rule` defaults to name."""
    return pytest.param(old, new, pointer, rule or name, id=name)


BREAKING = [
    case("required_added", lambda s: s["required"].append("position"), "/required"),
    case("property_removed", remove(("properties",), "incident_id"), "/properties/incident_id"),
    case(
        "enum_narrowed",
        remove((*prop("status"), "enum"), "reserved"),
        "/properties/status/enum",
    ),
    case("type_narrowed", update(prop("crew"), type="string"), "/properties/crew/type"),
    case("maximum_lowered", update(prop("crew"), maximum=20), "/properties/crew/maximum"),
    case("minimum_raised", update(prop("crew"), minimum=1), "/properties/crew/minimum"),
    case(
        "exclusive_maximum_lowered",
        update(prop("crew"), exclusiveMaximum=30),
        "/properties/crew/exclusiveMaximum",
    ),
    case(
        "max_length_lowered",
        update(prop("department"), maxLength=20),
        "/properties/department/maxLength",
    ),
    case(
        "min_length_added",
        update(prop("department"), minLength=2),
        "/properties/department/minLength",
    ),
    case(
        "min_length_raised",
        update(prop("department"), minLength=2),
        "/properties/department/minLength",
        old=update(prop("department"), minLength=1),
    ),
    case(
        "pattern_changed",
        update(prop("unit_id"), pattern="^[A-Z][A-Z0-9]{2,9}$"),
        "/properties/unit_id/pattern",
    ),
    case(
        "pattern_added",
        update(prop("station_id"), pattern="^[A-Z]+$"),
        "/properties/station_id/pattern",
        old=remove(prop("station_id"), "pattern"),
    ),
    case(
        "max_items_lowered",
        update(prop("capabilities"), maxItems=8),
        "/properties/capabilities/maxItems",
    ),
    case(
        "min_items_raised",
        update(prop("capabilities"), minItems=1),
        "/properties/capabilities/minItems",
        old=update(prop("capabilities"), minItems=0),
    ),
    case(
        "unique_items_added",
        update(prop("capabilities"), uniqueItems=True),
        "/properties/capabilities/uniqueItems",
        old=remove(prop("capabilities"), "uniqueItems"),
    ),
    case(
        "format_added",
        update(prop("station_id"), format="hostname"),
        "/properties/station_id/format",
    ),
    case(
        "format_changed",
        update(prop("observed_at"), format="date"),
        "/properties/observed_at/format",
    ),
    case(
        "const_changed",
        update(prop("kind"), const="vehicle"),
        "/properties/kind/const",
        old=update(("properties",), kind={"const": "unit"}),
    ),
    case("const_added", update(prop("station_id"), const="A1"), "/properties/station_id/const"),
    case("enum_added", update(prop("station_id"), enum=["A1"]), "/properties/station_id/enum"),
    case(
        "additional_properties_closed",
        update((), additionalProperties=False),
        "/additionalProperties",
        old=update((), additionalProperties=True),
    ),
    case(
        "items changed",
        update((*prop("capabilities"), "items"), maxLength=10),
        "/properties/capabilities/items/maxLength",
        "max_length_added",
    ),
    case(
        "items closed",
        update(prop("capabilities"), items=False),
        "/properties/capabilities/items",
        "schema_false",
    ),
    case(
        "nested in the anyOf of a nullable object",
        update((*POSITION, "properties", "lat"), maximum=80),
        "/properties/position/anyOf/0/properties/lat/maximum",
        "maximum_lowered",
    ),
    case(
        "required in a nested object",
        both(
            update((*POSITION, "properties"), alt={"type": "number"}),
            lambda s: at(s, POSITION)["required"].append("alt"),
        ),
        "/properties/position/anyOf/0/required",
        "required_added",
    ),
    case(
        "null no longer accepted",
        lambda s: s["properties"].update(incident_id=s["properties"]["incident_id"]["anyOf"][0]),
        "/properties/incident_id/type",
        "type_narrowed",
    ),
    case(
        "number to integer",
        update(prop("crew"), type="integer"),
        "/properties/crew/type",
        "type_narrowed",
        old=update(prop("crew"), type="number"),
    ),
    case(
        "typed property where any was allowed",
        update(("properties",), note={"type": "string"}),
        "/properties/note/type",
        "type_narrowed",
        old=update((), additionalProperties=True),
    ),
]


@pytest.mark.parametrize(("old_change", "new_change", "pointer", "rule"), BREAKING)
def test_breaking_change_is_caught_at_its_location(old_change, new_change, pointer, rule) -> None:
    old = evolve(old_change) if old_change else copy.deepcopy(BASE)
    issues = compare(old, evolve(new_change, old))
    assert (pointer, rule) in [(p, r) for p, r, _ in issues], issues


def test_breaking_change_message_names_the_change() -> None:
    ((pointer, rule, message),) = compare(BASE, evolve(update(prop("crew"), maximum=20)))
    assert (pointer, rule, message) == (
        "/properties/crew/maximum",
        "maximum_lowered",
        "maximum lowered from 30 to 20",
    )


def test_pattern_message_says_why_any_change_counts() -> None:
    new = evolve(update(prop("unit_id"), pattern="^[A-Z][A-Z0-9]{2,31}$"))  # wider, still
    ((_, rule, message),) = compare(BASE, new)
    assert rule == "pattern_changed"
    assert "cannot be proven" in message


def test_string_keywords_on_a_field_that_takes_no_strings_are_moot() -> None:
    assert compare(BASE, evolve(update((*POSITION, "properties", "lat"), pattern="^x"))) == []


COMPATIBLE = {
    "identical": lambda s: None,
    "optional property added": update(
        ("properties",),
        heading={"anyOf": [{"type": "number", "minimum": 0, "maximum": 360}, {"type": "null"}]},
    ),
    "enum widened": lambda s: s["properties"]["status"]["enum"].append("returning"),
    "maximum raised": update(prop("crew"), maximum=40),
    "minimum lowered": update((*POSITION, "properties", "lat"), minimum=-100),
    "maxItems raised": update(prop("capabilities"), maxItems=64),
    "description changed": update(prop("crew"), description="Persons on board."),
    "title and $comment changed": lambda s: s.update({"title": "Unit", "$comment": "v1.1"}),
    "$id changed": lambda s: s.update({"$id": "https://pelastus-hub.fi/unit-status/v1.1.json"}),
    "integer to number": update(prop("crew"), type="number"),
    "nullable added via anyOf with null": lambda s: s["properties"].update(
        crew={"anyOf": [s["properties"]["crew"], {"type": "null"}]}
    ),
    "nullable added via a type list": update(prop("crew"), type=["integer", "null"]),
    "required dropped": remove(("required",), "station_id"),
    "pattern dropped": remove(prop("unit_id"), "pattern"),
    "format dropped": remove(prop("observed_at"), "format"),
    "uniqueItems dropped": remove(prop("capabilities"), "uniqueItems"),
    "model opened": update((), additionalProperties=True),
    "anyOf with null as a type list": lambda s: s["properties"].update(
        position={**at(s, POSITION), "type": ["object", "null"]}
    ),
    "moved into $defs": position_into_defs,
    "anyOf to oneOf with disjoint types": lambda s: s["properties"]["incident_id"].update(
        oneOf=s["properties"]["incident_id"].pop("anyOf")
    ),
}


@pytest.mark.parametrize("change", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_evolution_passes(change: Change) -> None:
    assert compare(BASE, evolve(change)) == []


def test_type_list_and_anyof_convert_both_ways() -> None:
    listed = {"type": ["number", "null"], "minimum": 0}
    branched = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}
    assert compare(listed, branched) == []
    assert compare(branched, listed) == []


def test_exclusive_bounds_compare_with_inclusive_ones() -> None:
    assert compare({"exclusiveMinimum": 0}, {"minimum": 0}) == []
    assert compare({"minimum": 1}, {"exclusiveMinimum": 0}) == []
    assert [i[1] for i in compare({"minimum": 0}, {"exclusiveMinimum": 0})] == [
        "exclusive_minimum_raised"
    ]


def test_values_tell_true_from_one() -> None:
    assert [i[1] for i in compare({"enum": [True]}, {"enum": [1]})] == ["enum_narrowed"]
    assert [i[1] for i in compare({"const": 1}, {"const": True})] == ["const_changed"]
    assert compare({"const": "a"}, {"enum": ["a", "b"]}) == []
    assert compare({"const": "a"}, {"type": "string"}) == []  # the const implies the type


def test_ref_targets_are_compared_where_they_are_defined() -> None:
    old = evolve(position_into_defs)
    new = evolve(update(("$defs", "position", "anyOf", 0, "properties", "lon"), maximum=40), old)
    assert [i[:2] for i in compare(old, new)] == [
        ("/$defs/position/anyOf/0/properties/lon/maximum", "maximum_lowered")
    ]


def test_recursive_schemas_terminate() -> None:
    children = {"type": "array", "items": {"$ref": "#/$defs/node"}}
    node = {"type": "object", "properties": {"children": children}}
    tree = {"$defs": {"node": node}, "$ref": "#/$defs/node"}
    assert compare(tree, copy.deepcopy(tree)) == []
    narrowed = evolve(update(("$defs", "node", "properties", "children"), maxItems=2), tree)
    assert [i[:2] for i in compare(tree, narrowed)] == [
        ("/$defs/node/properties/children/maxItems", "max_items_added")
    ]


def test_unknown_keyword_gives_schema_unsupported() -> None:
    ((pointer, rule, message),) = compare(BASE, evolve(update(prop("crew"), multipleOf=2)))
    assert (pointer, rule) == ("/properties/crew/multipleOf", "schema_unsupported")
    assert "'multipleOf'" in message


@pytest.mark.parametrize(
    "new",
    [
        {"type": "object", "not": {"required": ["a"]}},
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"type": "object", "properties": {"a": {"$ref": "https://example.org/a.json"}}},
        {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]},
        {"type": "object", "properties": {"a": {"$id": "https://example.org/a"}}},
    ],
    ids=["not", "patternProperties", "remote $ref", "oneOf on one type", "$id below the root"],
)
def test_what_the_check_does_not_understand_is_breaking(new: dict) -> None:
    rules = [rule for _, rule, _ in compare({"type": "object"}, new)]
    assert "schema_unsupported" in rules


def test_unknown_keyword_left_unchanged_is_no_change() -> None:
    old = evolve(update(prop("crew"), multipleOf=2))
    assert compare(old, copy.deepcopy(old)) == []
    assert compare(old, evolve(update(("properties",), note={"type": "string"}), old)) == []


INCIDENT: dict[str, Any] = json.loads(
    (SCHEMAS / "incident" / "v1.0.json").read_text(encoding="utf-8")
)
OPENED_RULE = ("allOf", 0)  # opened requires incident_type, urgency and municipality_code
UNIT_RULE = ("allOf", 1)  # unit events require unit_id, others must not carry it

CONDITIONAL_BREAKING = [
    (
        "then requires more",
        lambda s: at(s, (*OPENED_RULE, "then", "required")).append("risk_class"),
        "/allOf/0/then/required",
        "required_added",
    ),
    (
        "else forbids more",
        update((*UNIT_RULE, "else", "properties"), risk_class=False),
        "/allOf/1/else/properties/risk_class",
        "schema_false",
    ),
    (
        "condition widened",
        lambda s: at(s, (*OPENED_RULE, "if", "properties")).update(
            event={"enum": ["opened", "closed"]}
        ),
        "/allOf/0/if",
        "condition_changed",
    ),
    (
        "allOf entry added",
        lambda s: s["allOf"].append({"required": ["risk_class"]}),
        "/allOf/2/required",
        "required_added",
    ),
    (
        "condition added",
        lambda s: s["allOf"].append({"if": {"required": ["unit_id"]}, "then": {"required": ["x"]}}),
        "/allOf/2/if",
        "condition_changed",
    ),
]
CONDITIONAL_COMPATIBLE = {
    "identical": lambda s: None,
    "then requires less": lambda s: at(s, (*OPENED_RULE, "then", "required")).remove("urgency"),
    "else allows unit_id": remove((*UNIT_RULE, "else", "properties"), "unit_id"),
    "condition dropped": lambda s: s["allOf"].pop(),
    "optional property added": update(("properties",), grid_square={"type": "string"}),
}


@pytest.mark.parametrize(
    ("change", "pointer", "rule"),
    [pytest.param(*c[1:], id=c[0]) for c in CONDITIONAL_BREAKING],
)
def test_conditional_rules_breaking(change: Change, pointer: str, rule: str) -> None:
    issues = compare(INCIDENT, evolve(change, INCIDENT))
    assert (pointer, rule) in [(p, r) for p, r, _ in issues], issues


@pytest.mark.parametrize(
    "change", CONDITIONAL_COMPATIBLE.values(), ids=CONDITIONAL_COMPATIBLE.keys()
)
def test_conditional_rules_compatible(change: Change) -> None:
    assert compare(INCIDENT, evolve(change, INCIDENT)) == []


def test_conditional_verdicts_hold_for_real_messages() -> None:
    """What the incident schema accepts, each compatible change accepts; each breaking change
    rejects at least one message the original accepted (the verdict is not just cautious)."""
    examples = sorted((SCHEMAS / "incident" / "examples").glob("*.json"))
    messages = [json.loads(path.read_text(encoding="utf-8")) for path in examples]
    messages += [{**m, "event": event} for m in messages for event in ("opened", "closed")]
    original = Draft202012Validator(INCIDENT)
    accepted = [m for m in messages if original.is_valid(m)]
    assert len(accepted) >= 4
    for change in CONDITIONAL_COMPATIBLE.values():
        new = Draft202012Validator(evolve(change, INCIDENT))
        assert all(new.is_valid(m) for m in accepted)
    for name, change, *_ in CONDITIONAL_BREAKING:
        if name in ("condition widened", "condition added"):
            continue  # flagged as not comparable, not because a message is known to break
        new = Draft202012Validator(evolve(change, INCIDENT))
        assert not all(new.is_valid(m) for m in accepted), name


def test_compatible_verdicts_hold_for_real_messages() -> None:
    """Cross-check with the jsonschema library: what an old schema accepts, a new one it was
    found compatible with accepts too. Every change of this file on every prepared base."""
    examples = sorted((SCHEMAS / "unit-status" / "examples").glob("*.json"))
    messages = [json.loads(path.read_text(encoding="utf-8")) for path in examples]
    messages += [{**m, "crew": crew} for m in messages for crew in (1.5, 31, None)]
    messages += [{**m, "position": None, "note": 1, "kind": "unit"} for m in messages]
    bases = [copy.deepcopy(BASE)] + [evolve(p.values[0]) for p in BREAKING if p.values[0]]
    changes = [p.values[1] for p in BREAKING] + list(COMPATIBLE.values())
    checked = 0
    for old in bases:
        for change in changes:
            try:
                new = evolve(change, old)
            except (KeyError, ValueError):  # the change does not apply to this base
                continue
            if not compare(old, new):
                checked += 1
                old_validator, new_validator = (
                    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
                    for schema in (old, new)
                )
                accepted = [m for m in messages if old_validator.is_valid(m)]
                assert accepted
                assert all(new_validator.is_valid(m) for m in accepted)
    assert checked > len(COMPATIBLE)


def write(folder: Path, name: str, content: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(content), encoding="utf-8")


@pytest.fixture
def schemas_dir(tmp_path: Path) -> Path:
    """unit-status v1.0 and a compatible v1.1, beside files and folders that are no family."""
    write(tmp_path / "unit-status", "v1.0.json", BASE)
    write(tmp_path / "unit-status", "v1.1.json", evolve(COMPATIBLE["optional property added"]))
    write(tmp_path / "unit-status" / "examples", "valid-x.json", {"department": "x"})
    write(tmp_path / "envelope", "v1.json", {"type": "object"})
    write(tmp_path, "departments.json", [])
    return tmp_path


def test_compatible_revisions_pass(schemas_dir: Path) -> None:
    lines: list[str] = []
    assert run_check(schemas_dir, out=lines.append) == 0
    assert lines == ["unit-status v1: 2 revisions, compatible"]
    assert check_schemas(schemas_dir) == []


def test_each_revision_is_compared_with_every_earlier_one(schemas_dir: Path) -> None:
    v1_1 = json.loads((schemas_dir / "unit-status" / "v1.1.json").read_text(encoding="utf-8"))
    narrowed = evolve(remove((*prop("status"), "enum"), "reserved"), v1_1)
    write(schemas_dir / "unit-status", "v1.2.json", narrowed)
    # v1.3 equals v1.2, so comparing it with its predecessor alone would let it through.
    write(schemas_dir / "unit-status", "v1.3.json", narrowed)
    found = check_schemas(schemas_dir)
    assert {(b.old_revision, b.new_revision) for b in found} == {(0, 2), (1, 2), (0, 3), (1, 3)}
    assert {(b.family, b.major, b.pointer, b.rule) for b in found} == {
        ("unit-status", 1, "/properties/status/enum", "enum_narrowed")
    }
    lines: list[str] = []
    assert run_check(schemas_dir, out=lines.append) == 1
    assert lines[0] == "unit-status v1: 4 revisions, 4 breaking changes"
    assert lines[1] == (
        'unit-status v1.0 -> v1.2: /properties/status/enum: enum rejects ["reserved"] now: only '
        "add values (enum_narrowed) is a breaking change: publish it as v2 with type "
        "fi.pelastus.unit-status.v2"
    )


def test_transitivity_catches_what_an_intermediate_revision_hid(schemas_dir: Path) -> None:
    # v1.1 added status "returning"; v1.2 drops "reserved" and keeps "returning": narrower
    # than v1.0 and v1.1 alike, so both comparisons report it.
    widened = evolve(lambda s: s["properties"]["status"]["enum"].append("returning"))
    write(schemas_dir / "unit-status", "v1.1.json", widened)
    write(
        schemas_dir / "unit-status",
        "v1.2.json",
        evolve(remove((*prop("status"), "enum"), "reserved"), widened),
    )
    assert {(b.old_revision, b.new_revision, b.rule) for b in check_schemas(schemas_dir)} == {
        (0, 2, "enum_narrowed"),
        (1, 2, "enum_narrowed"),
    }


def test_revision_gap_is_caught(schemas_dir: Path) -> None:
    (schemas_dir / "unit-status" / "v1.1.json").rename(schemas_dir / "unit-status" / "v1.2.json")
    ((gap,),) = [check_schemas(schemas_dir)]
    assert (gap.family, gap.major, gap.old_revision, gap.new_revision, gap.rule) == (
        "unit-status",
        1,
        1,
        2,
        "revision_gap",
    )
    lines: list[str] = []
    assert run_check(schemas_dir, out=lines.append) == 1
    assert lines[0] == "unit-status v1: 2 revisions, 1 breaking change"
    assert lines[1].startswith("unit-status v1.1 -> v1.2: v1.1 is missing (revision_gap)")


def test_majors_are_apart_and_unreadable_files_reported(schemas_dir: Path) -> None:
    write(schemas_dir / "unit-status", "v2.0.json", {"type": "string"})  # v2 may break v1
    (schemas_dir / "unit-status" / "v2.1.json").write_text("{", encoding="utf-8")
    found = check_schemas(schemas_dir)
    assert [(b.major, b.new_revision, b.rule) for b in found] == [(2, 1, "schema_unreadable")]
    lines: list[str] = []
    assert run_check(schemas_dir, out=lines.append) == 1
    assert lines[:2] == [
        "unit-status v1: 2 revisions, compatible",
        "unit-status v2: 2 revisions, 1 breaking change",
    ]


def test_a_folder_without_revisions_fails(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_check(tmp_path, out=lines.append) == 1
    assert lines[0].startswith("no schema revisions")


def test_a_condition_through_a_ref_is_never_taken_as_unchanged() -> None:
    old = {
        "$defs": {"kind": {"const": "opened"}},
        "if": {"properties": {"event": {"$ref": "#/$defs/kind"}}},
        "then": {"required": ["a"]},
    }
    new = copy.deepcopy(old)
    new["$defs"]["kind"] = {"const": "closed"}  # the same if-text, another condition
    assert ("/if", "condition_changed") in [i[:2] for i in compare(old, new)]


def test_annotations_inside_a_condition_are_no_change() -> None:
    new = copy.deepcopy(INCIDENT)
    at(new, (*OPENED_RULE, "if", "properties", "event"))["description"] = "The alarm."
    assert compare(INCIDENT, new) == []
