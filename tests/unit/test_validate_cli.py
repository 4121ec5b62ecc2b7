import io
import json
import sys
from pathlib import Path

import pytest

from pelastus_hub.cli import main
from tests.unit.helpers import SCHEMAS, event

EXAMPLE = SCHEMAS / "envelope" / "examples" / "unit-status-structured.json"


def lines(path: Path, *documents: object) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents))
    return path


def test_valid_example_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE)]) == 0
    output = capsys.readouterr().out
    assert "ok " in output and "RPI487" in output and "1 message: 1 valid, 0 invalid" in output


def test_one_invalid_line_fails_the_run_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = lines(tmp_path / "out.jsonl", event(), event(crew=-1), event(department="lappi"))
    assert main(["validate", str(path), "--department", "pirkanmaa"]) == 1
    output = capsys.readouterr().out.splitlines()
    assert output[0].startswith(f"ok       {path}:1:")
    assert output[1] == (
        f"invalid  {path}:2: schema_invalid: /data/crew: Input should be greater than or equal to 0"
    )
    assert output[2].startswith(f"invalid  {path}:3: department_mismatch: /data/department:")
    assert output[3] == "3 messages: 1 valid, 2 invalid"


def test_json_format_for_machines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = lines(tmp_path / "out.jsonl", event(), event(crew=-1))
    assert main(["validate", str(path), "--format", "json", "--key", "RPI487"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["invalid"]) == (1, 1)
    bad = report["messages"][1]
    assert (bad["reason"], bad["pointer"], bad["valid"]) == ("schema_invalid", "/data/crew", False)


def test_key_is_checked_when_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLE), "--key", "RPI999"]) == 1
    assert "key_mismatch: the record key must be /data/unit_id 'RPI487'" in capsys.readouterr().out


def test_unknown_payload_department_without_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = lines(tmp_path / "one.jsonl", event(department="narnia"))
    assert main(["validate", str(path)]) == 1
    assert "department_unknown" in capsys.readouterr().out


def test_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"[1, 2]"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["validate", "-"]) == 1
    assert "invalid  <stdin>: value_not_object" in capsys.readouterr().out


def test_usage_errors_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["validate", str(EXAMPLE), "--department", "narnia"]) == 2
    assert "not in the registry" in capsys.readouterr().err
    (tmp_path / "empty.jsonl").write_text("\n")
    assert main(["validate", str(tmp_path / "empty.jsonl")]) == 2
    assert "no messages found" in capsys.readouterr().err


def test_every_family_validates_and_incident_rules_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = sorted((SCHEMAS / "envelope" / "examples").glob("*-structured.json"))
    assert main(["validate", *map(str, examples)]) == 0
    assert "3 messages: 3 valid, 0 invalid" in capsys.readouterr().out
    opened = json.loads(
        (SCHEMAS / "envelope" / "examples" / "incident-structured.json").read_text()
    )
    unit_event = {**opened, "data": {**opened["data"], "event": "unit_on_scene"}}
    for name in ("incident_type", "urgency", "municipality_code", "risk_class"):
        del unit_event["data"][name]
    elsewhere = {**opened, "data": {**opened["data"], "municipality_code": "000"}}
    path = lines(tmp_path / "incidents.jsonl", unit_event, elsewhere)
    assert main(["validate", str(path)]) == 1
    output = capsys.readouterr().out.splitlines()
    assert output[0] == (
        f"invalid  {path}:1: schema_invalid: "
        "/data/unit_id: Field required when event is unit_on_scene"
    )
    assert output[1].startswith(
        f"invalid  {path}:2: municipality_unknown: /data/municipality_code: '000'"
    )


@pytest.mark.parametrize("family", ["incident", "readiness", "unit-status"])
def test_bare_payloads_of_a_family_get_the_verdict_their_names_claim(
    family: str, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = sorted((SCHEMAS / family / "examples").glob("*.json"))
    valid = [path for path in examples if path.name.startswith("valid-")]
    assert valid and len(valid) < len(examples)
    code = main(["validate", "--family", family, "--format", "json", *map(str, examples)])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    verdicts = {Path(m["location"]).name: m for m in report["messages"]}
    for path in examples:
        assert verdicts[path.name]["valid"] == path.name.startswith("valid-"), verdicts[path.name]
    # Pointers point into the payload, not into an envelope the file does not have.
    for verdict in verdicts.values():
        if not verdict["valid"]:
            assert not (verdict["pointer"] or "").startswith("/data"), verdict
            assert "/data" not in verdict["message"], verdict


def test_a_bare_payload_is_pointed_to_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = json.loads(
        (SCHEMAS / "unit-status" / "examples" / "valid-available-at-station.json").read_text()
    )
    path = lines(tmp_path / "payloads.jsonl", payload, {**payload, "crew": -1}, [1, 2])
    assert main(["validate", "--family", "unit-status", str(path)]) == 1
    output = capsys.readouterr().out.splitlines()
    assert output[0] == f"ok       {path}:1: unit-status RPI487"
    assert output[1] == (
        f"invalid  {path}:2: schema_invalid: /crew: Input should be greater than or equal to 0"
    )
    assert output[2].startswith(f"invalid  {path}:3: ")
    # Without --family the same payload is no event: it has no envelope.
    assert main(["validate", str(path)]) == 1
    assert "envelope_field_missing" in capsys.readouterr().out
