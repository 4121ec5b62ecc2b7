"""Compatibility rules for the contract's JSON Schemas, like a schema registry's BACKWARD_TRANSITIVE.

Each family folder `schemas/<family>/` holds immutable revisions `v<major>.<revision>.json`,
numbered from 0 without gaps. Within a major version, every revision must accept every message
that any earlier revision accepted, so that a producer still on an old revision keeps being
valid; anything else needs a new major version (a new CloudEvents type).

The comparison is structural and conservative: it reports a change as breaking unless it can
show that the new schema is at least as permissive as the old one at every location. Whatever it
does not understand is reported as `schema_unsupported`, never passed silently.
"""

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REVISION_FILE = re.compile(r"v([1-9][0-9]*)\.(0|[1-9][0-9]*)\.json")

# Keywords that never reject a message, so changing them cannot break anyone.
# `$defs` is only reached through a `$ref`, where its content is compared.
ANNOTATIONS = frozenset(
    ("title", "description", "$comment", "examples", "default", "deprecated", "readOnly")
    + ("writeOnly", "$defs")
)
# Only meaningful at a document's root: below it `$id` would change what `$ref`s resolve to.
ROOT_ONLY = frozenset(("$schema", "$id"))
HANDLED = frozenset(
    ("type", "enum", "const", "required", "properties", "additionalProperties", "format")
    + ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern")
    + ("minLength", "maxLength", "items", "minItems", "maxItems", "uniqueItems", "anyOf")
    + ("minProperties", "maxProperties", "oneOf", "$ref")
)
# Keywords that only ever constrain values of these JSON types: they cannot affect old
# messages when the old schema accepted no value of the type.
NUMBER, STRING, ARRAY, OBJECT = {"integer", "number"}, {"string"}, {"array"}, {"object"}

# Lower bounds (keyword, exclusive, default) are checked with sign +1 (new must not be higher),
# upper bounds with sign -1 (new must not be lower).
LOWER = (("minimum", False, None), ("exclusiveMinimum", True, None))
UPPER = (("maximum", False, None), ("exclusiveMaximum", True, None))

Issue = tuple[str, str, str]  # (JSON pointer in the new schema, rule code, what changed)


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
    """Why `new` might reject a message `old` accepted: (pointer, rule, message), in order."""
    issues = _Comparison(old, new).check(old, new, "")
    return list(dict.fromkeys(issues))  # shared $defs reached twice report once


def check_schemas(schemas_dir: Path) -> list[Breaking]:
    """Every breaking change and numbering problem of every family's major versions."""
    groups = _groups(schemas_dir).items()
    return [b for (family, major), revs in groups for b in _check_major(family, major, revs)]


def run_check(schemas_dir: Path, out: Callable[[str], Any] = print) -> int:
    """Print a line per family and major version, then its problems; 0 if all compatible."""
    groups = _groups(schemas_dir)
    if not groups:
        # A check that finds nothing is more likely pointed at the wrong folder than passing.
        out(f"no schema revisions (<family>/v<major>.<revision>.json) found in {schemas_dir}")
        return 1
    failed = False
    for (family, major), revisions in groups.items():
        found = _check_major(family, major, revisions)
        failed = failed or bool(found)
        verdict = f"{_plural(len(found), 'breaking change')}" if found else "compatible"
        out(f"{family} v{major}: {_plural(len(revisions), 'revision')}, {verdict}")
        for b in found:
            step = f"v{major}.{b.old_revision}"
            if b.new_revision != b.old_revision:
                step += f" -> v{major}.{b.new_revision}"
            out(f"{family} {step}: {b.message}")
    return 1 if failed else 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _groups(schemas_dir: Path) -> dict[tuple[str, int], dict[int, Path]]:
    """{(family, major): {revision: path}}, sorted; files not named like revisions are skipped."""
    groups: dict[tuple[str, int], dict[int, Path]] = {}
    for path in schemas_dir.glob("*/v*.json"):
        if (match := REVISION_FILE.fullmatch(path.name)) and path.is_file():
            revisions = groups.setdefault((path.parent.name, int(match[1])), {})
            revisions[int(match[2])] = path
    return {key: dict(sorted(groups[key].items())) for key in sorted(groups)}


def _check_major(family: str, major: int, revisions: dict[int, Path]) -> list[Breaking]:
    found: list[Breaking] = []
    for missing in sorted(set(range(max(revisions))) - set(revisions)):
        following = min(n for n in revisions if n > missing)
        found.append(Breaking(family, major, missing, following, "", "revision_gap",
            f"v{major}.{missing} is missing before v{major}.{following} (revision_gap): "
            "revisions are numbered from 0 without gaps and published ones are never deleted; "
            f"restore v{major}.{missing}.json, or renumber the later files if it was never "
            "published"))
    schemas: dict[int, Any] = {}
    for number, path in revisions.items():
        try:
            schemas[number] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            found.append(Breaking(family, major, number, number, "", "schema_unreadable",
                f"{path.name} is not readable JSON (schema_unreadable): {error}"))
    advice = f"publish it as v{major + 1} with type fi.pelastus.{family}.v{major + 1}"
    for new_number, new in schemas.items():
        for old_number, old in schemas.items():
            if old_number >= new_number:
                break
            for pointer, rule, detail in compare(old, new):
                found.append(Breaking(family, major, old_number, new_number, pointer, rule,
                    f"{pointer or '(root)'}: {detail} ({rule}); this is a breaking change: "
                    f"{advice}"))
    return found


class _Comparison:
    """Is every instance of an old subschema an instance of a new one? Lists the reasons not."""

    def __init__(self, old_root: Any, new_root: Any) -> None:
        self.roots = {"old": old_root, "new": new_root}
        # (old subschema, new $ref target) pairs being compared: meeting one again means a
        # recursive schema, where the pair holds if everything else does (instances are finite).
        self.active: set[tuple[int, int]] = set()

    def check(self, old: Any, new: Any, ptr: str) -> list[Issue]:
        for _ in range(64):  # old $refs: the target alone is a superset of $ref with siblings
            if not (isinstance(old, dict) and "$ref" in old):
                break
            ref = old["$ref"]
            old = self.resolve("old", ref)[0]
            if old is None:
                return [(ptr, "schema_unsupported", f"old $ref {ref!r} cannot be resolved")]
        if isinstance(new, dict) and "$ref" in new:
            return self.check_new_ref(old, new, ptr)
        if new is True or (isinstance(new, dict) and not _constraints(new)) or old is False:
            return []
        if new is False:
            return [(ptr, "schema_false", "nothing is accepted here any more")]
        old = {} if old is True else old
        if not isinstance(old, dict) or not isinstance(new, dict):
            return [(ptr, "schema_unsupported", "a subschema is neither an object nor boolean")]
        if _same(_constraints(old), _constraints(new)) and not _has_ref(old):
            return []  # identical constraints accept the same messages, understood or not
        if "anyOf" in old or "oneOf" in old:
            return self.check_old_alternatives(old, new, ptr)
        if "anyOf" in new or "oneOf" in new:
            return self.check_new_alternatives(old, new, ptr)
        return self.check_keywords(old, new, ptr)

    def resolve(self, side: str, ref: Any) -> tuple[Any, str]:
        """Target of a same-document reference ("#/$defs/x") and its pointer; None if none."""
        if not isinstance(ref, str) or not ref.startswith("#") or ref[1:2] not in ("", "/"):
            return None, repr(ref)
        node, pointer = self.roots[side], unquote(ref[1:])
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return None, repr(ref)
        return node, pointer

    def check_new_ref(self, old: Any, new: dict, ptr: str) -> list[Issue]:
        target, where = self.resolve("new", new["$ref"])
        if target is None:
            return [(f"{ptr}/$ref", "schema_unsupported", f"$ref {where} cannot be resolved")]
        key = (id(old), id(target))
        if key in self.active:
            return []
        self.active.add(key)
        try:
            issues = self.check(old, target, where)
        finally:
            self.active.discard(key)
        siblings = {k: v for k, v in new.items() if k != "$ref"}  # they must hold as well
        return issues + (self.check(old, siblings, ptr) if _constraints(siblings) else [])

    def check_old_alternatives(self, old: dict, new: Any, ptr: str) -> list[Issue]:
        # Old messages match the keywords beside anyOf/oneOf and one of its branches; it is
        # enough that either the former alone, or each branch alone, fits the new schema.
        base = {k: v for k, v in old.items() if k not in ("anyOf", "oneOf")}
        if _constraints(base) and not (issues := self.check(base, new, ptr)):
            return issues
        branches = old["anyOf"] if "anyOf" in old else old["oneOf"]
        return [issue for branch in branches for issue in self.check(branch, new, ptr)]

    def check_new_alternatives(self, old: dict, new: dict, ptr: str) -> list[Issue]:
        base = {k: v for k, v in new.items() if k not in ("anyOf", "oneOf")}
        issues = self.check(old, base, ptr)
        for keyword in ("anyOf", "oneOf"):
            if keyword not in new:
                continue
            branches = new[keyword]
            if keyword == "oneOf" and not self.exclusive(branches):
                # oneOf also rejects a message that matches two branches; only when the
                # branches' types are disjoint is it the same as anyOf.
                issues.append((f"{ptr}/oneOf", "schema_unsupported",
                    "oneOf branches without disjoint types cannot be checked; use anyOf"))
                continue
            for piece in _split_types(old):  # {"type": [a, b]} is anyOf [{a}, {b}]
                trials = [self.check(piece, b, f"{ptr}/{keyword}/{i}") for i, b in enumerate(branches)]
                if trials and all(trials):  # no branch takes the piece: report the closest
                    issues += min(trials, key=lambda t: (sum(r == "type_narrowed" for _, r, _ in t), len(t)))
                elif not trials:
                    issues.append((f"{ptr}/{keyword}", "schema_false", f"empty {keyword} accepts nothing"))
        return issues

    def exclusive(self, branches: list) -> bool:
        """Whether no value can match two branches, judged by their JSON types."""
        seen: list[set[str]] = []
        for branch in branches:
            while isinstance(branch, dict) and "$ref" in branch:
                branch = self.resolve("new", branch["$ref"])[0]
            types = _types(branch) if isinstance(branch, dict) else None
            if types is None or any(_overlap(types, other) for other in seen):
                return False
            seen.append(types)
        return True

    def check_keywords(self, old: dict, new: dict, ptr: str) -> list[Issue]:
        issues = []
        for side in (old, new):
            for keyword in side:
                if keyword not in HANDLED | ANNOTATIONS | (ROOT_ONLY if ptr == "" else set()):
                    issues.append((f"{ptr}/{keyword}", "schema_unsupported",
                        f"keyword {keyword!r} is not understood by the compatibility check, so "
                        "the change cannot be proven compatible"))
        old_types = _types(old)
        issues += _check_type_and_values(old, new, ptr, old_types)

        def applies(types: set[str]) -> bool:
            return old_types is None or bool(old_types & types)

        issues += _check_format(old, new, ptr)
        if applies(NUMBER):
            issues += _bounds(old, new, ptr, LOWER, 1) + _bounds(old, new, ptr, UPPER, -1)
            issues += _check_multiple_of(old, new, ptr)
        if applies(STRING):
            issues += _bounds(old, new, ptr, (("minLength", False, 0),), 1)
            issues += _bounds(old, new, ptr, (("maxLength", False, None),), -1)
            issues += _check_pattern(old, new, ptr)
        if applies(ARRAY):
            issues += _bounds(old, new, ptr, (("minItems", False, 0),), 1)
            issues += _bounds(old, new, ptr, (("maxItems", False, None),), -1)
            if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
                issues.append((f"{ptr}/uniqueItems", "unique_items_added",
                    "uniqueItems added: arrays with repeated items are rejected now"))
            issues += self.check(old.get("items", True), new.get("items", True), f"{ptr}/items")
        if applies(OBJECT):
            issues += _bounds(old, new, ptr, (("minProperties", False, 0),), 1)
            issues += _bounds(old, new, ptr, (("maxProperties", False, None),), -1)
            issues += self.check_object(old, new, ptr)
        return issues

    def check_object(self, old: dict, new: dict, ptr: str) -> list[Issue]:
        issues = [
            (f"{ptr}/required", "required_added",
             f"{name!r} is now required: add it as an optional property instead")
            for name in new.get("required", []) if name not in old.get("required", [])
        ]
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_rest, new_rest = old.get("additionalProperties", True), new.get("additionalProperties", True)
        for name in [*old_props, *(n for n in new_props if n not in old_props)]:
            where = f"{ptr}/properties/{_escape(name)}"
            old_sub = old_props.get(name, old_rest)
            if name in old_props and name not in new_props and new_rest is False and old_sub is not False:
                issues.append((where, "property_removed",
                    f"property {name!r} removed from a closed model (additionalProperties false): "
                    "messages that carry it are rejected now; keep it, and say in its "
                    "description that it is deprecated"))
            else:
                new_where = where if name in new_props else f"{ptr}/additionalProperties"
                issues += self.check(old_sub, new_props.get(name, new_rest), new_where)
        if new_rest is False and old_rest is not False:
            issues.append((f"{ptr}/additionalProperties", "additional_properties_closed",
                "additionalProperties became false: properties not listed, accepted before, "
                "are rejected now"))
        elif new_rest is not False:
            issues += self.check(old_rest, new_rest, f"{ptr}/additionalProperties")
        return issues


def _constraints(node: dict) -> dict:
    return {k: v for k, v in node.items() if k not in ANNOTATIONS | ROOT_ONLY}


def _same(a: Any, b: Any) -> bool:
    # Python has 1 == 1.0 == True; JSON Schema tells true from 1.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or "$dynamicRef" in node or any(map(_has_ref, node.values()))
    return isinstance(node, list) and any(map(_has_ref, node))


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    for python, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python):
            return name
    return {type(None): "null", list: "array", dict: "object"}[type(value)]


def _values(node: dict) -> dict[str, Any] | None:
    """The only values a schema accepts, by canonical JSON (so true != 1), or None if any."""
    found = None
    for allowed in ([node["const"]] if "const" in node else None, node.get("enum")):
        if allowed is not None:
            keyed = {json.dumps(v, sort_keys=True): v for v in allowed}
            found = keyed if found is None else {k: v for k, v in found.items() if k in keyed}
    return found


def _covers(types: Iterable[str], name: str) -> bool:
    return name in types or (name == "integer" and "number" in types)


def _types(node: dict) -> set[str] | None:
    """JSON types a schema can accept (None: any), from `type` narrowed by enum and const."""
    declared = node.get("type")
    types = None if declared is None else {declared} if isinstance(declared, str) else set(declared)
    values = _values(node)
    if values is None:
        return types
    value_types = {_json_type(v) for v in values.values()}
    return value_types if types is None else {t for t in value_types if _covers(types, t)}


def _overlap(a: set[str], b: set[str]) -> bool:
    return any(_covers(a, t) for t in b) or any(_covers(b, t) for t in a)


def _split_types(node: dict) -> list[dict]:
    declared = node.get("type")
    if not isinstance(declared, list) or len(declared) < 2:
        return [node]
    return [{**node, "type": name} for name in declared]


def _check_type_and_values(old: dict, new: dict, ptr: str, old_types: set[str] | None) -> list[Issue]:
    issues = []
    if "type" in new:
        declared = new["type"]
        new_types = [declared] if isinstance(declared, str) else declared
        if old_types is None:
            issues.append((f"{ptr}/type", "type_narrowed", f"type {_show(declared)} added where any type was accepted"))
        elif lost := sorted(t for t in old_types if not _covers(new_types, t)):
            issues.append((f"{ptr}/type", "type_narrowed", f"type {_show(declared)} no longer accepts {', '.join(lost)}"))
    old_values = _values(old)
    if "enum" in new:
        if old_values is None:
            issues.append((f"{ptr}/enum", "enum_added", "enum added where any value was accepted"))
        elif lost := [_show(v) for k, v in old_values.items() if k not in _values({"enum": new["enum"]})]:
            issues.append((f"{ptr}/enum", "enum_narrowed", f"enum no longer contains {', '.join(lost)}: only add values"))
    if "const" in new:
        wanted = json.dumps(new["const"], sort_keys=True)
        if old_values is None:
            issues.append((f"{ptr}/const", "const_added", f"const {_show(new['const'])} added where any value was accepted"))
        elif lost := [_show(v) for k, v in old_values.items() if k != wanted]:
            issues.append((f"{ptr}/const", "const_changed", f"const {_show(new['const'])} no longer accepts {', '.join(lost)}"))
    return issues


def _bounds(old: dict, new: dict, ptr: str, keywords: tuple, sign: int) -> list[Issue]:
    """New bounds that some old bound (at least as strict) does not already imply."""
    old_bounds = [(old.get(k, default), exclusive) for k, exclusive, default in keywords]
    old_bounds = [(v, exclusive) for v, exclusive in old_bounds if v is not None]
    issues = []
    for keyword, exclusive, _default in keywords:
        if keyword not in new:
            continue
        value = new[keyword]
        if any(sign * (v - value) > 0 or (v == value and (old_ex or not exclusive)) for v, old_ex in old_bounds):
            continue
        rule = re.sub(r"(?<!^)([A-Z])", r"_\1", keyword).lower()
        if not old_bounds:
            issues.append((f"{ptr}/{keyword}", f"{rule}_added", f"{keyword} {_show(value)} added where there was no bound"))
            continue
        moved = "raised" if sign > 0 else "lowered"
        before = " / ".join(f"{'exclusive ' if ex else ''}{_show(v)}" for v, ex in old_bounds)
        issues.append((f"{ptr}/{keyword}", f"{rule}_{moved}", f"{keyword} {moved} from {before} to {_show(value)}"))
    return issues


def _check_multiple_of(old: dict, new: dict, ptr: str) -> list[Issue]:
    if "multipleOf" not in new:
        return []
    if "multipleOf" in old and (Fraction(str(old["multipleOf"])) / Fraction(str(new["multipleOf"]))).denominator == 1:
        return []  # every multiple of the old factor is a multiple of the new one
    rule = "multiple_of_changed" if "multipleOf" in old else "multiple_of_added"
    return [(f"{ptr}/multipleOf", rule, f"multipleOf {_show(new['multipleOf'])} rejects values accepted before")]


def _check_pattern(old: dict, new: dict, ptr: str) -> list[Issue]:
    if "pattern" not in new or old.get("pattern") == new["pattern"]:
        return []
    if "pattern" not in old:
        return [(f"{ptr}/pattern", "pattern_added", f"pattern {_show(new['pattern'])} added where there was none")]
    return [(f"{ptr}/pattern", "pattern_changed",
        f"pattern changed from {_show(old['pattern'])} to {_show(new['pattern'])}: whether one regular expression "
        "accepts everything another did cannot be proven, so any change counts as breaking")]


def _check_format(old: dict, new: dict, ptr: str) -> list[Issue]:
    if "format" not in new or old.get("format") == new["format"]:
        return []
    rule, was = ("format_changed", f"was {_show(old['format'])}") if "format" in old else ("format_added", "was none")
    return [(f"{ptr}/format", rule, f"format {_show(new['format'])} ({was}) rejects values accepted before")]
