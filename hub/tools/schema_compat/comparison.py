"""Whether a new schema accepts every instance an old one did: the schemas walked side by
side, through $refs, alternatives, conditions, items and properties."""

import json
from typing import Any
from urllib.parse import unquote

from pelastus_hub.tools.schema_compat.rules import (
    ANNOTATIONS,
    REFERENCE,
    Issue,
    issue,
    kinds,
    value_issues,
)


def compare(old: dict, new: dict) -> list[Issue]:
    """Why `new` may reject a message that `old` accepted: (pointer, rule, message) each."""
    comparison = _Comparison(old, new)
    old, new = ({k: v for k, v in s.items() if k not in ("$schema", "$id")} for s in (old, new))
    comparison.check(old, new, "")
    return list(dict.fromkeys(comparison.found))  # $defs reached through two $refs: once


class _Comparison:
    """Does every instance of an old subschema match the new one? Collects the reasons not."""

    def __init__(self, old_root: Any, new_root: Any) -> None:
        self.roots = {"old": old_root, "new": new_root}
        self.found: list[Issue] = []
        # (old subschema, new $ref target) pairs under comparison: meeting one again means a
        # recursive schema, and the pair holds if all else does (instances are finite).
        self.active: set[tuple[int, int]] = set()

    def flag(self, pointer: str, rule: str, **values: Any) -> None:
        self.found.append(issue(pointer, rule, **values))

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
        self.found += value_issues(old, new, ptr)
        self.check_all_of(old, new, ptr)
        self.check_condition(old, new, ptr)
        accepted = kinds(old)
        if "array" in accepted:
            self.check(old.get("items", True), new.get("items", True), f"{ptr}/items")
        if "object" in accepted:
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


def _count(issues: list[Issue], rule: str) -> int:
    return sum(found[1] == rule for found in issues)


def _disjoint(branches: list) -> bool:
    """Whether the `type`s of these oneOf branches let no value match two of them."""
    types = [branch.get("type") if isinstance(branch, dict) else None for branch in branches]
    if not all(isinstance(t, str) for t in types) or len(set(types)) < len(types):
        return False
    return not {"integer", "number"} <= set(types)  # every integer is a number
