"""What the keywords of one schema node allow: the rule codes and their messages, and the
checks of the keywords that constrain a value itself rather than its parts."""

import json
import re
from typing import Any

# Equal subschemas with references may still differ where those lead.
REFERENCE = re.compile(r'"\$(ref|dynamicRef|recursiveRef)"')
# Keywords that never reject a message ($defs: compared where a $ref leads). `$schema` and
# `$id` only at the root, which compare() drops: below it, `$id` changes what $refs resolve to.
ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default", "$defs"})
# (lower bounds, upper bounds, the JSON types they constrain); the second ones are exclusive.
BOUNDS = (
    (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum"), {"integer", "number"}),
    (("minLength",), ("maxLength",), {"string"}),
    (("minItems",), ("maxItems",), {"array"}),
    (("minProperties",), ("maxProperties",), {"object"}),
)
NUMBER = (int, float)  # compared by exact type: a bool is no number in JSON
TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
# Keywords any new value of which (but false) is breaking, and the types they constrain: no
# check can prove that a regex accepts all another did; formats may be defined for any type.
EXACT = (("format", TYPES), ("pattern", {"string"}), ("uniqueItems", {"array"}))
HANDLED = frozenset(
    {"type", "enum", "const", "format", "pattern", "uniqueItems", "items", "required"}
    | {
        "properties",
        "additionalProperties",
        "anyOf",
        "oneOf",
        "$ref",
        "allOf",
        "if",
        "then",
        "else",
    }
    | {keyword for lower, upper, _ in BOUNDS for keyword in lower + upper}
)
# The text of each rule code; codes ending in _raised, _lowered, _added or _changed without
# an entry of their own use the ending's. Values appear as JSON, `keyword` and `types` as is.
MESSAGES = {
    "raised": "{keyword} raised from {old} to {new}",
    "lowered": "{keyword} lowered from {old} to {new}",
    "added": "{keyword} {new} added where there was none",
    "changed": "{keyword} changed from {old} to {new}",
    "type_narrowed": "type {new} rejects {types}, accepted before",
    "enum_narrowed": "enum rejects {lost} now: only add values",
    "const_changed": "const {new} rejects {lost}, accepted before",
    "pattern_changed": "pattern changed from {old} to {new}; as regex inclusion cannot be proven, "
    "any change counts",
    "required_added": "{name} is required now: add it as an optional property instead",
    "property_removed": "{name} removed from a closed model: keep it, call it deprecated instead",
    "additional_properties_closed": "additionalProperties false: others are rejected now",
    "schema_false": "nothing is accepted here any more",
    "schema_unsupported": "{keyword} is beyond this check, so it cannot show compatibility",
    "condition_changed": "if changed from {old} to {new}; as the cases a condition selects cannot "
    "be compared, any change counts",
}

Issue = tuple[str, str, str]  # (JSON pointer into the new schema, rule code, what changed)


def issue(pointer: str, rule: str, **values: Any) -> Issue:
    template = MESSAGES.get(rule) or MESSAGES[rule.rsplit("_", 1)[1]]
    shown = {k: v if k in ("keyword", "types") else json.dumps(v) for k, v in values.items()}
    return pointer, rule, template.format(**shown)


def kinds(node: dict) -> set[str]:
    """The JSON types a schema accepts, integer with number, all if it does not say. Most
    keywords constrain one kind of value only: moot when the old schema accepted none of it."""
    types = _types(node)
    return _widen(types) if types is not None else set(TYPES)


def value_issues(old: dict, new: dict, ptr: str) -> list[Issue]:
    """Why `new` may reject a value `old` accepted, by keywords that constrain the value
    itself: type, enum and const, format, pattern, uniqueItems and bounds; and the keywords
    this check does not handle. Subschemas are compared by the caller."""
    found = [
        issue(f"{ptr}/{keyword}", "schema_unsupported", keyword=f"keyword {keyword!r}")
        for keyword in (*old, *new)
        if keyword not in HANDLED | ANNOTATIONS
    ]
    old_types = _types(old)
    if "type" in new:
        new_types = _widen({new["type"]} if isinstance(new["type"], str) else set(new["type"]))
        if old_types is None:
            found.append(
                issue(f"{ptr}/type", "type_narrowed", new=new["type"], types="all other types")
            )
        elif lost := sorted(old_types - new_types):
            found.append(
                issue(f"{ptr}/type", "type_narrowed", new=new["type"], types=", ".join(lost))
            )
    found += _listed_issues(old, new, ptr)
    accepted = kinds(old)
    for keyword, types in EXACT:
        if accepted & types and new.get(keyword, False) not in (False, old.get(keyword)):
            rule = f"{_snake(keyword)}_{'changed' if keyword in old else 'added'}"
            was = old.get(keyword)
            found.append(
                issue(f"{ptr}/{keyword}", rule, keyword=keyword, old=was, new=new[keyword])
            )
    for lower, upper, types in BOUNDS:
        if accepted & types:
            found += _bound_issues(old, new, ptr, lower, 1)
            found += _bound_issues(old, new, ptr, upper, -1)
    return found


def _listed_issues(old: dict, new: dict, ptr: str) -> list[Issue]:
    """enum and const: the values `old` allowed that `new` does not."""
    found = []
    old_values = _values(old)
    for keyword, rule in (("enum", "enum_narrowed"), ("const", "const_changed")):
        if keyword in new and old_values is None:
            found.append(
                issue(f"{ptr}/{keyword}", f"{keyword}_added", keyword=keyword, new=new[keyword])
            )
        elif keyword in new:
            allowed = _values({keyword: new[keyword]}) or {}
            if lost := [v for k, v in old_values.items() if k not in allowed]:
                found.append(issue(f"{ptr}/{keyword}", rule, new=new[keyword], lost=lost))
    return found


def _bound_issues(old: dict, new: dict, ptr: str, keywords: tuple, sign: int) -> list[Issue]:
    """Lower (sign 1) or upper (-1) bounds of new that no old bound as strict implies."""
    found = []
    old_bounds = [(old[k], ex) for ex, k in enumerate(keywords) if type(old.get(k)) in NUMBER]
    for exclusive, keyword in enumerate(keywords):
        if (value := new.get(keyword)) is None:
            continue
        if type(value) not in NUMBER:
            found.append(
                issue(f"{ptr}/{keyword}", "schema_unsupported", keyword=f"{keyword} {value}")
            )
        elif not any(
            sign * (v - value) > 0 or (v == value and (old_exclusive or not exclusive))
            for v, old_exclusive in old_bounds
        ):
            moved = ("raised" if sign > 0 else "lowered") if old_bounds else "added"
            rule = f"{_snake(keyword)}_{moved}"
            was = old.get(keyword, old_bounds[0][0] if old_bounds else None)
            found.append(issue(f"{ptr}/{keyword}", rule, keyword=keyword, old=was, new=value))
    return found


def _values(node: dict) -> dict[str, Any] | None:
    """The only values a schema accepts, keyed by canonical JSON; None: any value."""
    found = None
    for allowed in ([node["const"]] if "const" in node else None, node.get("enum")):
        if allowed is not None:
            keyed = {json.dumps(v, sort_keys=True): v for v in allowed}
            found = keyed if found is None else {k: v for k, v in found.items() if k in keyed}
    return found


def _widen(types: set[str]) -> set[str]:
    """The types, with integer among them if number is: every integer is a number."""
    return types | {"integer"} if "number" in types else types


def _types(node: dict) -> set[str] | None:
    """The JSON types a schema accepts (None: any): `type`, narrowed by enum and const."""
    declared = node.get("type")
    types = None if declared is None else {declared} if isinstance(declared, str) else set(declared)
    if (values := _values(node)) is None:
        return types
    found = {_json_type(value) for value in values.values()}
    return found if types is None else found & _widen(types)


def _json_type(value: Any) -> str:
    if type(value) in NUMBER:
        return "integer" if type(value) is int or value.is_integer() else "number"  # 1.0 too
    return {bool: "boolean", str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _snake(keyword: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", keyword).lower()  # maxLength: max_length
