"""The numbered revisions of each family's schemas, each compared with every earlier one of
its major version: `pelastus-hub schemas check`."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pelastus_hub.tools.schema_compat.comparison import compare

REVISION_FILE = re.compile(r"v([1-9][0-9]*)\.(0|[1-9][0-9]*)\.json")


@dataclass(frozen=True)
class Breaking:
    family: str
    major: int
    old_revision: int
    new_revision: int
    pointer: str
    rule: str
    message: str


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
