"""What the dead-letter commands make of a dead letter, without a broker."""

import asyncio
from datetime import UTC, datetime

import pytest

from pelastus_hub.tools.dead_letters import Letter, Selection, line_of, parse_name, replay

WRITTEN = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def letter(offset: int, **hub: str) -> Letter:
    fields = {
        "reason": "schema_invalid",
        "message": "/data/crew: Input should be greater than or equal to 0",
        "pointer": "/data/crew",
        "topic": "dept.lappi.unit-status",
        "partition": "1",
        "offset": "17",
        "department": "lappi",
    }
    return Letter(0, offset, WRITTEN, b"RPI487", b"{}", (("ce_id", b"1"),), fields | hub)


def test_a_dead_letter_reads_as_its_feedback_does():
    line = line_of(letter(5))
    assert line.strip().startswith("0:5  2026-12-03 08:00:00  lappi")
    assert "schema_invalid at /data/crew: /data/crew: Input should be" in line
    assert line.endswith("(from dept.lappi.unit-status/1/17)")
    document = letter(5).as_json()
    assert (document["dead_letter"], document["offset"], document["value"]) == ("0:5", 17, "{}")
    assert Letter(0, 6, WRITTEN, None, b"\xff", ()).as_json()["value"] == {"base64": "/w=="}


def test_a_selection_takes_what_matches_every_criterion():
    assert Selection(department="lappi", reason="schema_invalid")(letter(1))
    assert not Selection(department="kainuu")(letter(1))
    assert not Selection(until=datetime(2026, 12, 3, 7, 59, tzinfo=UTC))(letter(1))


def test_replay_never_sends_a_dead_letter_in_part():
    said: list[str] = []
    kept, cut = letter(1), letter(2, value_omitted="3145730 bytes")
    done = asyncio.run(replay(None, [kept, cut], dry_run=True, progress=said.append))
    assert done.sent == {"dept.lappi.unit-status": 1}
    assert done.skipped == {"its value not kept": 1}
    assert said == ["would replay 0:1 to dept.lappi.unit-status"]


@pytest.mark.parametrize("name", ["7", "0:x", ":3", "a:b:c"])
def test_a_dead_letter_name_is_partition_colon_offset(name):
    with pytest.raises(ValueError, match="<partition>:<offset>"):
        parse_name(name)
    assert parse_name("2:40") == (2, 40)
