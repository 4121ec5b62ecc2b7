"""The contract reference: generated from schemas/, complete, and checked for staleness."""

import json
import shutil
from pathlib import Path

import pytest

from pelastus_hub.families import FAMILIES
from pelastus_hub.tools.contract_docs import REFERENCE, LabelError, enum_labels, generate, run_docs
from tests.unit.helpers import SCHEMAS

REPO = SCHEMAS.parent


def test_the_written_reference_is_up_to_date() -> None:
    assert (REPO / REFERENCE).read_text(encoding="utf-8") == generate(SCHEMAS), (
        "run `pelastus-hub schemas docs`"
    )


def section(text: str, heading: str) -> str:
    """The part of the reference under one '## ' heading."""
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_field_and_enum_value_is_in_its_familys_section() -> None:
    text = generate(SCHEMAS)
    for family in FAMILIES:
        own = section(text, family)
        newest = max((SCHEMAS / family).glob("v1.*.json"), key=lambda p: int(p.stem[3:]))
        for name, node in json.loads(newest.read_text())["properties"].items():
            assert f"| `{name}` |" in own, (family, name)
            for value in node.get("enum", []):
                values = own.split(f"Values of `{name}`:", 1)[1].split("\nValues of ", 1)[0]
                row = next(
                    line for line in values.splitlines() if line.startswith(f"| `{value}` |")
                )
                assert row.count(" | ") == 3 and "|  |" not in row, row  # three labels, none empty


def test_revisions_say_what_they_added() -> None:
    assert "- Revisions: v1.0; v1.1 adds `grid_square`" in generate(SCHEMAS)


def test_labels_are_parsed_per_value_longest_first() -> None:
    text, labels = enum_labels(
        "Risk. Values: I: Yksi / Ett / One; II: Kaksi / Två / Two (more).", ["I", "II"], "x"
    )
    assert text == "Risk."
    assert labels == {"I": ("Yksi", "Ett", "One"), "II": ("Kaksi", "Två", "Two (more)")}


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ("No labels at all.", "has no 'Values:"),
        ("Values: a: Aa / Ab / Ac.", "no fi / sv / en label for b"),
        ("Values: a: Aa / Ab / Ac; b: only English.", "'b' needs 'fi / sv / en'"),
        ("Values: A = Aa / Ab / Ac.", "must be followed by"),
        ("Values: see below; a: Aa / Ab / Ac; b: Ba / Bb / Bc.", "must be followed by"),
        (
            "Values: a: Aa / Ab / Ac; b: Ba / Bb / Bc. Deprecated: use a.",
            "must end the description",
        ),
    ],
)
def test_a_value_without_three_labels_is_an_error(description: str, words: str) -> None:
    with pytest.raises(LabelError, match=words):
        enum_labels(description, ["a", "b"], "f.json kind")


def test_check_fails_on_a_stale_reference_and_names_the_fix(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    output = tmp_path / REFERENCE
    said: list[str] = []
    assert run_docs(schemas, output, check=True, out=said.append) == 1  # none written yet
    assert run_docs(schemas, output, check=False, out=said.append) == 0
    assert run_docs(schemas, output, check=True, out=said.append) == 0
    path = schemas / "readiness" / "v1.0.json"
    schema = json.loads(path.read_text())
    schema["properties"]["volunteers_available"]["description"] = "Volunteers ready now."
    path.write_text(json.dumps(schema))
    said.clear()
    assert run_docs(schemas, output, check=True, out=said.append) == 1
    assert "out of date" in said[0] and "pelastus-hub schemas docs" in said[0]
    assert any(line.startswith("+") and "Volunteers ready now." in line for line in said)


def test_values_other_than_strings_are_labelled_as_json() -> None:
    _, labels = enum_labels(
        "Flag. Values: true: Kyllä / Ja / Yes; false: Ei / Nej / No.", [True, False], "x"
    )
    assert labels == {"true": ("Kyllä", "Ja", "Yes"), "false": ("Ei", "Nej", "No")}
