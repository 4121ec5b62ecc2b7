"""The contract reference (docs/contract.md), generated from schemas/.

Every family's newest revision, field by field: type, whether required,
constraints, description, and the enum values with their Finnish, Swedish and
English labels. The labels live in each enum field's description, as
"Values: <value>: <fi> / <sv> / <en>; ...": a value without all three is an
error, so the reference can never show a value nobody named.
"""

import difflib
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.families import FAMILIES
from pelastus_hub.tools.schema_compat import REVISION_FILE

REFERENCE = Path("docs") / "contract.md"
HEADER = (
    "<!-- Generated from schemas/ by `pelastus-hub schemas docs`; edit the schemas, not this. -->"
)


class LabelError(ValueError):
    """An enum whose values do not all have fi / sv / en labels in the description."""


def enum_labels(
    description: str, values: list[Any], where: str
) -> tuple[str, dict[str, tuple[str, str, str]]]:
    """The description without its "Values: ..." part, and each value's (fi, sv, en)."""
    text, found, listed = (" " + description).partition(" Values: ")
    text = text[1:]
    if not found:
        raise LabelError(f"{where}: the description has no 'Values: <value>: fi / sv / en; ...'")
    names = sorted((_shown(v) for v in values), key=len, reverse=True)  # II before I
    starts = list(re.finditer(r"(?:^|; )(" + "|".join(map(re.escape, names)) + r"): ", listed))
    if not starts or starts[0].start() != 0:
        raise LabelError(f"{where}: 'Values:' must be followed by '<value>: fi / sv / en'")
    labels: dict[str, tuple[str, str, str]] = {}
    for match, following in zip(starts, [*starts[1:], None], strict=True):
        label = listed[match.end() : following.start() if following else len(listed)]
        parts = label.removesuffix(".").split(" / ")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise LabelError(f"{where}: {match[1]!r} needs 'fi / sv / en', got {label!r}")
        if ". " in label:  # the list ends the description; a sentence after it is no label
            raise LabelError(f"{where}: the Values list must end the description: {label!r}")
        labels[match[1]] = (parts[0], parts[1], parts[2])
    if missing := [_shown(v) for v in values if _shown(v) not in labels]:
        raise LabelError(f"{where}: no fi / sv / en label for {', '.join(missing)}")
    return text, labels


def _shown(value: Any) -> str:
    """An enum value as the description writes it: strings bare, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def generate(schemas_dir: Path) -> str:
    """The whole reference, as Markdown."""
    out: list[str] = [
        HEADER,
        "",
        "# The v1 contract: reference",
        "",
        "Every message family the hub accepts, field by field, in its newest revision. A",
        "message valid against any earlier revision of the same major version is valid",
        "against the newest one too (`pelastus-hub schemas check` proves it). The JSON",
        "Schemas in `schemas/` are the contract; this page is generated from them.",
        "",
        "- [Envelope](#envelope)",
        *(f"- [{name}](#{name})" for name in FAMILIES),
        "- [Registries](#registries)",
        "",
    ]
    envelope = _load(schemas_dir / "envelope" / "v1.json")
    out += ["## Envelope", "", envelope["description"], ""]
    out += _fields(envelope, "envelope/v1.json")
    for name, family in FAMILIES.items():
        major = max(family.models)  # the version the hub's models mirror
        revisions = _revisions(schemas_dir / name, major)
        newest_path = revisions[-1]
        newest = _load(newest_path)
        out += [f"## {name}", "", newest["description"], ""]
        out += [
            f"- CloudEvents type: `fi.pelastus.{name}.v{major}`",
            f"- Topic: `{input_topic('<department>', name)}`, record key: `{family.key_field}`",
            f"- Event time: `{family.time_field}`",
            f"- Revisions: {_revision_notes(revisions)}",
            "",
        ]
        out += _fields(newest, f"{name}/{newest_path.name}")
    out += _registries(schemas_dir)
    return "\n".join(out).rstrip("\n") + "\n"


def run_docs(
    schemas_dir: Path, output: Path, check: bool, out: Callable[[str], Any] = print
) -> int:
    """Write the reference, or with check, say whether the written one is up to date."""
    try:
        text = generate(schemas_dir)
    except LabelError as error:
        out(f"error: {error}")
        return 1
    if not check:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        out(f"wrote {output}")
        return 0
    current = output.read_text(encoding="utf-8") if output.exists() else ""
    if current == text:
        out(f"{output} is up to date")
        return 0
    out(f"{output} is out of date with schemas/: run `pelastus-hub schemas docs`")
    diff = difflib.unified_diff(
        current.splitlines(), text.splitlines(), "written", "generated", lineterm="", n=1
    )
    for line in list(diff)[:40]:
        out(line)
    return 1


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _revisions(folder: Path, major: int) -> list[Path]:
    found = [(p, REVISION_FILE.fullmatch(p.name)) for p in folder.glob(f"v{major}.*.json")]
    return [p for p, m in sorted((f for f in found if f[1]), key=lambda f: int(f[1][2]))]


def _revision_notes(revisions: list[Path]) -> str:
    """'v1.0; v1.1 adds `grid_square`': what each revision added to the one before."""
    notes = [revisions[0].stem]
    for before, after in itertools.pairwise(revisions):
        old, new = (_flatten(_load(p)) for p in (before, after))
        changes = [f"`{name}`" for name in new if name not in old]
        for name in (n for n in new if n in old):
            was = old[name].get("enum", [])
            if added := [f"`{v}`" for v in new[name].get("enum", []) if v not in was]:
                changes.append(f"values {', '.join(added)} of `{name}`")
        notes.append(f"{after.stem} adds {', '.join(changes) or 'no fields'}")
    return "; ".join(notes)


def _flatten(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Fields by dotted name, nested objects (also inside a nullable anyOf) included."""
    fields: dict[str, dict[str, Any]] = {}
    for name, node in schema.get("properties", {}).items():
        fields[prefix + name] = node
        for branch in [node, *node.get("anyOf", [])]:
            if "properties" in branch:
                fields.update(_flatten(branch, f"{prefix}{name}."))
    return fields


def _required(schema: dict[str, Any], prefix: str = "") -> set[str]:
    names = {prefix + n for n in schema.get("required", [])}
    for name, node in schema.get("properties", {}).items():
        for branch in [node, *node.get("anyOf", [])]:
            if "properties" in branch:
                names |= _required(branch, f"{prefix}{name}.")
    return names


def _fields(schema: dict[str, Any], where: str) -> list[str]:
    required = dict.fromkeys(_required(schema), "yes")
    for rule in (r for r in schema.get("allOf", []) if "if" in r):
        for name in rule.get("then", {}).get("required", []):
            required.setdefault(name, _condition(rule["if"]))
    rows = ["| Field | Type | Required | Constraints | Description |", "|---|---|---|---|---|"]
    value_tables: list[str] = []
    for name, node in _flatten(schema).items():
        description = node.get("description", "")
        if "enum" in node:
            description, labels = enum_labels(description, node["enum"], f"{where} {name}")
            value_tables += [
                "",
                f"Values of `{name}`:",
                "",
                "| Value | Suomeksi | På svenska | In English |",
                "|---|---|---|---|",
                *(
                    f"| `{_shown(v)}` | {' | '.join(_cell(x) for x in labels[_shown(v)])} |"
                    for v in node["enum"]
                ),
            ]
        rows.append(
            f"| `{name}` | {_type(node)} | {required.get(name, 'no')} "
            f"| {_cell(_constraints(node))} | {_cell(description)} |"
        )
    if isinstance(extra := schema.get("additionalProperties"), dict):
        rows.append(
            f"| other attributes | {_type(extra)} | no | | {_cell(extra.get('description', ''))} |"
        )
    elif extra is False:
        rows.append("| other fields | | | not allowed (closed content model) | |")
    rules = [_rule(rule) for rule in schema.get("allOf", []) if "if" in rule]
    if rules:
        rows += ["", "Rules across fields:", "", *(f"- {rule}" for rule in rules)]
    return [*rows, *value_tables, ""]


def _type(node: dict[str, Any]) -> str:
    if "anyOf" in node:
        return " or ".join(_type(branch) for branch in node["anyOf"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    declared = node.get("type", "string" if "enum" in node else "any")
    kind = " or ".join(declared) if isinstance(declared, list) else declared
    if kind == "array" and isinstance(node.get("items"), dict):
        return f"array of {_type(node['items'])}"
    return kind


def _constraints(node: dict[str, Any]) -> str:
    for branch in node.get("anyOf", []):
        if branch.get("type") != "null":
            return _constraints(branch)
    found = []
    if "format" in node:
        found.append(f"format {node['format']}")
    if "pattern" in node:
        found.append(f"pattern `{node['pattern']}`")
    for keyword, text in (
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "length at least"),
        ("maxLength", "length at most"),
        ("maxItems", "at most {} items"),
    ):
        if keyword in node:
            found.append(text.format(node[keyword]) if "{}" in text else f"{text} {node[keyword]}")
    if node.get("uniqueItems"):
        found.append("items unique")
    if isinstance(items := node.get("items"), dict) and "pattern" in items:
        found.append(f"items match `{items['pattern']}`")
    if "enum" in node:
        found.append("one of the values below")
    if node.get("additionalProperties") is False:
        found.append("no other fields")
    if "default" in node:
        found.append(f"default `{node['default']}`")
    return ", ".join(found)


def _rule(rule: dict[str, Any]) -> str:
    """'When `event` is `opened`: `a`, `b` required.' from an if/then/else."""
    condition = _condition(rule["if"])
    parts = [f"{condition[0].upper()}{condition[1:]}: {_effect(rule.get('then', {}))}"]
    if "else" in rule:
        parts.append(f"otherwise {_effect(rule['else'])}")
    return "; ".join(parts) + "."


def _condition(condition: dict[str, Any]) -> str:
    """'when `event` is `opened`'."""
    parts = []
    for name, node in condition.get("properties", {}).items():
        values = [node["const"]] if "const" in node else node.get("enum", [])
        parts.append(f"`{name}` is {' or '.join(f'`{v}`' for v in values)}")
    return f"when {' and '.join(parts)}"


def _effect(branch: dict[str, Any]) -> str:
    effects = []
    if required := branch.get("required"):
        effects.append(f"{', '.join(f'`{n}`' for n in required)} required")
    if forbidden := [n for n, node in branch.get("properties", {}).items() if node is False]:
        effects.append(f"{', '.join(f'`{n}`' for n in forbidden)} not allowed")
    return " and ".join(effects) or "no further rule"


def _registries(schemas_dir: Path) -> list[str]:
    registry = Registry.load(schemas_dir)
    listed = _load(schemas_dir / "municipalities.json")
    out = [
        "## Registries",
        "",
        "### Departments (`schemas/departments.json`)",
        "",
        "The `department` of every message, and the `<department>` of every topic.",
        "",
        "| Code | Suomeksi | På svenska | Counties served | Cooperation area |",
        "|---|---|---|---|---|",
    ]
    for d in registry.departments:
        counties = ", ".join(f"{c.code} {c.name_fi}" for c in d.counties)
        out.append(
            f"| `{d.code}` | {d.name_fi} | {d.name_sv} | {counties} | {d.cooperation_area} |"
        )
    out += [
        "",
        "### Municipalities (`schemas/municipalities.json`)",
        "",
        f"`municipality_code` must be one of the {len(listed['municipalities'])} municipality "
        f"codes of Statistics Finland's classification valid from {listed['valid_from']}, "
        "or a pseudo-code:",
        "",
        "| Code | Suomeksi | På svenska | In English |",
        "|---|---|---|---|",
        *(
            f"| `{p['code']}` | {p['name_fi']} | {p['name_sv']} | {p['name_en']} |"
            for p in listed["pseudo_codes"]
        ),
    ]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
