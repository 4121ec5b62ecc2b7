"""Departments in other languages work from schemas/ alone.

A second JSON Schema implementation, independent of the hub's (jsonschema-rs,
written in Rust), gives every example the verdict its file name claims, with
format checking on.
"""

import json
import re
from pathlib import Path

import jsonschema_rs
import pytest

from tests.unit.helpers import NOW, SCHEMAS, snapshot_of
from tests.unit.test_aggregate import INCIDENTS, STATIONS, UNITS

REVISIONS = sorted(SCHEMAS.glob("*/v*.*.json"))
# An example made for a later revision says so: valid-v1.1-....json; others hold for all.
SINCE = re.compile(r"(?:valid|invalid)-v([0-9]+)\.([0-9]+)-")


def applies(example: Path, revision: Path) -> bool:
    major, number = (int(part) for part in revision.stem[1:].split("."))
    since = SINCE.match(example.name)
    return since is None or (int(since[1]), int(since[2])) <= (major, number)


EXAMPLES = [
    (revision, example)
    for revision in REVISIONS
    for example in sorted((revision.parent / "examples").glob("*.json"))
    if applies(example, revision)
]


def validator(path: Path) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.validator_for(json.loads(path.read_text()), validate_formats=True)


def test_every_family_revision_has_examples() -> None:
    assert REVISIONS, "no schema revisions found"
    for revision in REVISIONS:
        names = [example.name for rev, example in EXAMPLES if rev == revision]
        assert any(n.startswith("valid-") for n in names), revision
        assert any(n.startswith("invalid-") for n in names), revision


@pytest.mark.parametrize(("revision", "example"), EXAMPLES, ids=lambda p: p.name)
def test_examples_get_their_named_verdict(revision: Path, example: Path) -> None:
    expected = example.name.startswith("valid-")
    assert validator(revision).is_valid(json.loads(example.read_text())) is expected


@pytest.mark.parametrize(
    "path", sorted((SCHEMAS / "envelope" / "examples").glob("*.json")), ids=lambda p: p.name
)
def test_envelope_examples_are_valid_whole_events(path: Path) -> None:
    event = json.loads(path.read_text())
    assert validator(SCHEMAS / "envelope" / "v1.json").is_valid(event)
    family = event["type"].split(".")[2]
    newest = max(REVISIONS, key=lambda r: (r.parent.name == family, int(r.stem.split(".")[1])))
    assert newest.parent.name == family
    assert validator(newest).is_valid(event["data"])


def test_a_snapshot_is_valid() -> None:
    document = snapshot_of(
        UNITS, INCIDENTS, STATIONS, ["pirkanmaa", "lappi", "kainuu"], 1, NOW, 900
    )
    assert validator(SCHEMAS / "capability" / "v2.json").is_valid(document)


def test_an_example_of_a_later_revision_needs_it() -> None:
    """The closed content model: v1.0 rejects what only v1.1 added; v1.1 takes both."""
    newer = json.loads(
        (SCHEMAS / "incident" / "examples" / "valid-v1.1-opened-with-grid-square.json").read_text()
    )
    older = json.loads((SCHEMAS / "incident" / "examples" / "valid-opened.json").read_text())
    assert not validator(SCHEMAS / "incident" / "v1.0.json").is_valid(newer)
    assert validator(SCHEMAS / "incident" / "v1.1.json").is_valid(newer)
    assert validator(SCHEMAS / "incident" / "v1.1.json").is_valid(older)


def test_feedback_schema_knows_every_reason_and_warning_code() -> None:
    from pelastus_hub.contract.reasons import Reason, WarningCode

    schema = json.loads((SCHEMAS / "feedback" / "v1.json").read_text())
    assert schema["properties"]["reason"]["enum"] == [*Reason, *WarningCode]
