"""Schema evolution rules, like a schema registry's BACKWARD_TRANSITIVE mode.

`schemas/<family>/v<major>.<revision>.json` are immutable revisions numbered from 0. Each must
accept every message any earlier revision of its major version accepted, so producers still on
an old revision stay valid. The comparison is structural and conservative: a change is breaking
unless shown to be at least as permissive everywhere; the unknown is reported, never passed.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REVISION_FILE = re.compile(r"v([1-9][0-9]*)\.(0|[1-9][0-9]*)\.json")
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


@dataclass(frozen=True)
class Breaking:
    family: str
    major: int
    old_revision: int
    new_revision: int
    pointer: str
    rule: str
    message: str


def compare(old: dict, new: dict) -> list[Issue]:
    """Why `new` may reject a message that `old` accepted: (pointer, rule, message) each."""
    comparison = _Comparison(old, new)
    old, new = ({k: v for k, v in s.items() if k not in ("$schema", "$id")} for s in (old, new))
    comparison.check(old, new, "")
    return list(dict.fromkeys(comparison.found))  # $defs reached through two $refs: once


def check_schemas(schemas_dir: Path) -> list[Breaking]:
    """Breaking changes and numbering problems of every family's major versions."""
    groups = _groups(schemas_dir).items()
    return [b for (family, major), revs in groups for b in _check_major(family, major, revs)]


def run_check(schemas_dir: Path, out: Callable[[str], Any] = print) -> int:
    """A line per family and major version, then one per problem; 0 if all are compatible."""
    groups = _groups(schemas_dir)
    if not groups:
        # Finding nothing more likely means a wrong folder than a contract without schemas.
        out(f"no schema revisions (<family>/v<major>.<revision>.json) found in {schemas_dir}")
        return 1
    status = 0
    for (family, major), revisions in groups.items():
        found = _check_major(family, major, revisions)
        verdict = f"{len(found)} breaking change{'s' * (len(found) > 1)}" if found else None
        count = f"{len(revisions)} revision{'s' * (len(revisions) > 1)}"
        out(f"{family} v{major}: {count}, {verdict or 'compatible'}")
        for b in found:
            step = f"v{major}.{b.old_revision}"
            step += f" -> v{major}.{b.new_revision}" if b.new_revision != b.old_revision else ""
            out(f"{family} {step}: {b.message}")
        status = 1 if found else status
    return status


def _groups(schemas_dir: Path) -> dict[tuple[str, int], dict[int, Path]]:
    """{(family, major): {revision: path}}, sorted; other files and folders are no families."""
    groups: dict[tuple[str, int], dict[int, Path]] = {}
    for path in schemas_dir.glob("*/v*.json"):
        if (match := REVISION_FILE.fullmatch(path.name)) and path.is_file():
            groups.setdefault((path.parent.name, int(match[1])), {})[int(match[2])] = path
    return {key: dict(sorted(groups[key].items())) for key in sorted(groups)}


def _check_major(family: str, major: int, revisions: dict[int, Path]) -> list[Breaking]:
    found: list[Breaking] = []
    for missing in sorted(set(range(max(revisions))) - set(revisions)):
        following = min(n for n in revisions if n > missing)
        text = f"v{major}.{missing} is missing (revision_gap): revisions count from 0 without"
        text += " gaps and are never deleted; restore it, or renumber if it was never published"
        found.append(Breaking(family, major, missing, following, "", "revision_gap", text))
    schemas: dict[int, Any] = {}
    for number, path in revisions.items():
        try:
            if not isinstance(schema := json.loads(path.read_text(encoding="utf-8")), dict):
                raise ValueError("not a JSON object")
            schemas[number] = schema
        except (OSError, ValueError) as error:  # UnicodeDecodeError is a ValueError too
            text = f"{path.name} is no JSON Schema object (schema_unreadable): {error}"
            found.append(Breaking(family, major, number, number, "", "schema_unreadable", text))
    advice = f"publish it as v{major + 1} with type fi.pelastus.{family}.v{major + 1}"
    for new_number, new in schemas.items():
        for old_number, old in schemas.items():
            if old_number >= new_number:
                break
            for pointer, rule, detail in compare(old, new):
                text = f"{pointer or '(root)'}: {detail} ({rule}) is a breaking change: {advice}"
                found.append(Breaking(family, major, old_number, new_number, pointer, rule, text))
    return found


class _Comparison:
    """Does every instance of an old subschema match the new one? Collects the reasons not."""

    def __init__(self, old_root: Any, new_root: Any) -> None:
        self.roots = {"old": old_root, "new": new_root}
        self.found: list[Issue] = []
        # (old subschema, new $ref target) pairs under comparison: meeting one again means a
        # recursive schema, and the pair holds if all else does (instances are finite).
        self.active: set[tuple[int, int]] = set()

    def flag(self, pointer: str, rule: str, **values: Any) -> None:
        template = MESSAGES.get(rule) or MESSAGES[rule.rsplit("_", 1)[1]]
        shown = {k: v if k in ("keyword", "types") else json.dumps(v) for k, v in values.items()}
        self.found.append((pointer, rule, template.format(**shown)))

    def trial(self, old: Any, new: Any, ptr: str) -> list[Issue]:
        """The issues of one comparison, kept apart from the others."""
        kept, self.found = self.found, []
        self.check(old, new, ptr)
        tried, self.found = self.found, kept
        return tried

    def check(self, old: Any, new: Any, ptr: str) -> None:
        if isinstance(old, dict) and "$ref" in old:  # its target alone accepts at least as much
            if (target := self.resolve("old", old["$ref"])[0]) is None:
                return self.flag(ptr, "schema_unsupported", keyword="an unresolvable old $ref")
            return self.check(target, new, ptr)
        if isinstance(new, dict) and "$ref" in new:
            return self.check_new_ref(old, new, ptr)
        if new is True or (isinstance(new, dict) and _key(new) == "{}") or old is False:
            return None
        if new is False:
            return self.flag(ptr, "schema_false")
        old = {} if old is True else old
        if not isinstance(old, dict) or not isinstance(new, dict):
            return self.flag(ptr, "schema_unsupported", keyword="a schema neither object nor bool")
        if (key := _key(old)) == _key(new) and not REFERENCE.search(key):
            return None  # the same constraints accept the same, understood or not
        if "anyOf" in old or "oneOf" in old:  # each old branch must fit; siblings only narrow
            for branch in old["anyOf"] if "anyOf" in old else old["oneOf"]:
                self.check(branch, new, ptr)
            return None
        if "anyOf" in new or "oneOf" in new:
            return self.check_new_alternatives(old, new, ptr)
        return self.check_keywords(old, new, ptr)

    def resolve(self, side: str, ref: Any) -> tuple[Any, str]:
        """The entry a `$ref` "#/$defs/<name>" names, and its pointer; other $refs give None."""
        raw = ref[8:] if isinstance(ref, str) and ref.startswith("#/$defs/") else "/"
        name = unquote(raw).replace("~1", "/").replace("~0", "~")
        return None if "/" in raw else self.roots[side].get("$defs", {}).get(name), f"/$defs/{raw}"

    def check_new_ref(self, old: Any, new: dict, ptr: str) -> None:
        target, where = self.resolve("new", new["$ref"])
        if target is None:
            return self.flag(f"{ptr}/$ref", "schema_unsupported", keyword="an unresolvable $ref")
        if (key := (id(old), id(target))) not in self.active:
            self.active.add(key)
            self.check(old, target, where)
            self.active.discard(key)
        return self.check(old, {k: v for k, v in new.items() if k != "$ref"}, ptr)  # siblings

    def check_new_alternatives(self, old: dict, new: dict, ptr: str) -> None:
        self.check(old, {k: v for k, v in new.items() if k not in ("anyOf", "oneOf")}, ptr)
        # {"type": [a, b], ...} is anyOf [{"type": a, ...}, {"type": b, ...}]: each must fit.
        types = old.get("type")
        pieces = [{**old, "type": t} for t in types] if isinstance(types, list) else [old]
        for keyword in ("anyOf", "oneOf"):
            if (branches := new.get(keyword)) is None:
                continue
            at = f"{ptr}/{keyword}"
            if not branches or (keyword == "oneOf" and not _disjoint(branches)):
                # oneOf rejects values matching two branches: like anyOf only for disjoint types.
                self.flag(at, "schema_unsupported", keyword=f"this {keyword}")
                continue
            for piece in pieces:
                trials = [self.trial(piece, b, f"{at}/{i}") for i, b in enumerate(branches)]
                if all(trials):  # no branch fits: report the nearest, preferring the right type
                    self.found += min(trials, key=lambda t: (_count(t, "type_narrowed"), len(t)))

    def check_keywords(self, old: dict, new: dict, ptr: str) -> None:
        for keyword in [k for k in (*old, *new) if k not in HANDLED | ANNOTATIONS]:
            self.flag(f"{ptr}/{keyword}", "schema_unsupported", keyword=f"keyword {keyword!r}")
        old_types = _types(old)
        # Most keywords constrain one kind of value only: moot when old accepted none of it.
        kinds = _widen(old_types) if old_types is not None else TYPES
        if "type" in new:
            new_types = _widen({new["type"]} if isinstance(new["type"], str) else set(new["type"]))
            if old_types is None:
                self.flag(f"{ptr}/type", "type_narrowed", new=new["type"], types="all other types")
            elif lost := sorted(old_types - new_types):
                self.flag(f"{ptr}/type", "type_narrowed", new=new["type"], types=", ".join(lost))
        self.check_values(old, new, ptr)
        for keyword, types in EXACT:
            if kinds & types and new.get(keyword, False) not in (False, old.get(keyword)):
                rule = f"{_snake(keyword)}_{'changed' if keyword in old else 'added'}"
                was = old.get(keyword)
                self.flag(f"{ptr}/{keyword}", rule, keyword=keyword, old=was, new=new[keyword])
        for lower, upper, types in BOUNDS:
            if kinds & types:
                self.check_bounds(old, new, ptr, lower, 1)
                self.check_bounds(old, new, ptr, upper, -1)
        self.check_all_of(old, new, ptr)
        self.check_condition(old, new, ptr)
        if "array" in kinds:
            self.check(old.get("items", True), new.get("items", True), f"{ptr}/items")
        if "object" in kinds:
            self.check_object(old, new, ptr)

    def check_all_of(self, old: dict, new: dict, ptr: str) -> None:
        """Entries pair by position: each new one must accept all its old one did. Dropping
        entries only widens; an added one is compared with an empty (accept-all) schema."""
        old_entries = old.get("allOf", [])
        for i, entry in enumerate(new.get("allOf", [])):
            self.check(old_entries[i] if i < len(old_entries) else True, entry, f"{ptr}/allOf/{i}")

    def check_condition(self, old: dict, new: dict, ptr: str) -> None:
        """With the same `if`, each branch must accept all its old branch did."""
        if "if" not in new:
            return None  # then and else alone do nothing; dropping a condition only widens
        old_if, new_if = (_canonical(s["if"]) if "if" in s else None for s in (old, new))
        # A $ref may lead elsewhere in the other schema, however alike the texts.
        if old_if != new_if or REFERENCE.search(new_if):
            return self.flag(f"{ptr}/if", "condition_changed", old=old.get("if"), new=new["if"])
        for branch in ("then", "else"):
            self.check(old.get(branch, True), new.get(branch, True), f"{ptr}/{branch}")
        return None

    def check_values(self, old: dict, new: dict, ptr: str) -> None:
        old_values = _values(old)
        for keyword, rule in (("enum", "enum_narrowed"), ("const", "const_changed")):
            if keyword in new and old_values is None:
                self.flag(f"{ptr}/{keyword}", f"{keyword}_added", keyword=keyword, new=new[keyword])
            elif keyword in new:
                allowed = _values({keyword: new[keyword]}) or {}
                if lost := [v for k, v in old_values.items() if k not in allowed]:
                    self.flag(f"{ptr}/{keyword}", rule, new=new[keyword], lost=lost)

    def check_bounds(self, old: dict, new: dict, ptr: str, keywords: tuple, sign: int) -> None:
        """Flags lower (sign 1) or upper (-1) bounds of new that no old bound as strict implies."""
        old_bounds = [(old[k], ex) for ex, k in enumerate(keywords) if type(old.get(k)) in NUMBER]
        for exclusive, keyword in enumerate(keywords):
            if (value := new.get(keyword)) is None:
                continue
            if type(value) not in NUMBER:
                self.flag(f"{ptr}/{keyword}", "schema_unsupported", keyword=f"{keyword} {value}")
            elif not any(
                sign * (v - value) > 0 or (v == value and (old_exclusive or not exclusive))
                for v, old_exclusive in old_bounds
            ):
                moved = ("raised" if sign > 0 else "lowered") if old_bounds else "added"
                rule = f"{_snake(keyword)}_{moved}"
                was = old.get(keyword, old_bounds[0][0] if old_bounds else None)
                self.flag(f"{ptr}/{keyword}", rule, keyword=keyword, old=was, new=value)

    def check_object(self, old: dict, new: dict, ptr: str) -> None:
        for name in new.get("required", []):
            if name not in old.get("required", []):
                self.flag(f"{ptr}/required", "required_added", name=name)
        old_props, new_props = (s.get("properties", {}) for s in (old, new))
        old_rest, new_rest = (s.get("additionalProperties", True) for s in (old, new))
        for name in [*old_props, *(n for n in new_props if n not in old_props)]:
            where = f"{ptr}/properties/{name.replace('~', '~0').replace('/', '~1')}"
            old_sub = old_props.get(name, old_rest)
            if name in new_props:
                self.check(old_sub, new_props[name], where)
            elif new_rest is False and old_sub is not False:
                self.flag(where, "property_removed", name=name)
            else:
                self.check(old_sub, new_rest, f"{ptr}/additionalProperties")
        if new_rest is False and old_rest is not False:
            self.flag(f"{ptr}/additionalProperties", "additional_properties_closed")
        else:
            self.check(old_rest, new_rest, f"{ptr}/additionalProperties")


def _key(node: dict) -> str:
    """A schema's constraints as canonical JSON, which (unlike Python) tells true from 1."""
    return json.dumps({k: v for k, v in node.items() if k not in ANNOTATIONS}, sort_keys=True)


def _canonical(node: Any) -> str:
    """A whole subschema's constraints as canonical JSON: annotations dropped at every level."""
    return json.dumps(_constraints_only(node), sort_keys=True)


def _constraints_only(node: Any) -> Any:
    if isinstance(node, list):
        return [_constraints_only(item) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword in ("properties", "patternProperties", "dependentSchemas"):  # names: kept
            kept[keyword] = {name: _constraints_only(sub) for name, sub in value.items()}
        elif keyword in ("enum", "const", "required"):  # values, not schemas
            kept[keyword] = value
        else:
            kept[keyword] = _constraints_only(value)
    return kept


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


def _count(issues: list[Issue], rule: str) -> int:
    return sum(issue[1] == rule for issue in issues)


def _disjoint(branches: list) -> bool:
    """Whether the `type`s of these oneOf branches let no value match two of them."""
    types = [branch.get("type") if isinstance(branch, dict) else None for branch in branches]
    if not all(isinstance(t, str) for t in types) or len(set(types)) < len(types):
        return False
    return not {"integer", "number"} <= set(types)  # every integer is a number
