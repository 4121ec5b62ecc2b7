"""Output records of a batch: every one within the limit, whatever the input record was."""

from datetime import UTC, datetime

from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.records import Record, Rejection
from pelastus_hub.pipeline.batch import DeadLetter
from pelastus_hub.pipeline.outputs import batch_outputs, dead_letter

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LIMIT = 10_000


def letter(key: bytes | None, value: bytes | None, headers=()) -> DeadLetter:
    record = Record("dept.pirkanmaa.unit-status", key, value, headers, partition=2, offset=7)
    rejection = Rejection(Reason.VALUE_TOO_LARGE, "the value is too large")
    return DeadLetter(record, "pirkanmaa", "unit-status", rejection)


def headers_of(out) -> dict[str, bytes]:
    return dict(out.headers)


def test_a_small_dead_letter_keeps_key_value_and_headers_first() -> None:
    out = dead_letter(letter(b"RPI1", b"{}", [("ce_id", b"1")]), LIMIT)
    assert (out.key, out.value) == (b"RPI1", b"{}")
    assert out.headers[0] == ("ce_id", b"1")
    found = headers_of(out)
    assert found["hub.error.topic"] == b"dept.pirkanmaa.unit-status"
    assert (found["hub.error.partition"], found["hub.error.offset"]) == (b"2", b"7")
    assert not any(name.endswith("_omitted") for name, _ in out.headers)
    assert out.smaller is not None and out.smaller.value == b"" and out.smaller.key is None


def test_an_oversized_value_is_left_out_and_said_so() -> None:
    out = dead_letter(letter(b"RPI1", b"x" * 50_000, [("ce_id", b"1")]), LIMIT)
    assert out.value is None and out.key == b"RPI1"
    assert headers_of(out)["hub.error.value_omitted"] == b"50000 bytes"
    assert ("ce_id", b"1") in out.headers  # the headers still fit
    assert out.size <= LIMIT


def test_the_largest_part_goes_first_until_the_rest_fits() -> None:
    big_headers = [(f"h{i}", b"y" * 100) for i in range(200)]
    out = dead_letter(letter(b"RPI1", b"{}", big_headers), LIMIT)
    assert out.value == b"{}" and headers_of(out)["hub.error.headers_omitted"] == (
        b"200 headers, " + str(sum(len(n) + 100 for n, _ in big_headers)).encode() + b" bytes"
    )
    out = dead_letter(letter(b"k" * 20_000, b"v" * 20_000, big_headers), LIMIT)
    assert (out.key, out.value) == (None, b"")  # a record needs a key or a value
    assert {"hub.error.headers_omitted", "hub.error.value_omitted", "hub.error.key_omitted"} <= set(
        headers_of(out)
    )
    assert out.size <= LIMIT


def test_a_record_without_key_and_value_gets_an_empty_value() -> None:
    out = dead_letter(letter(None, None), LIMIT)
    assert (out.key, out.value) == (None, b"")


def test_feedback_leaves_out_a_key_too_large_to_carry() -> None:
    small, large = letter(b"RPI1", b"{}"), letter(b"k" * 8000, b"{}")
    outputs = batch_outputs([small, large], [], {}, LIMIT, NOW)
    feedback = [o for o in outputs if o.topic == "feedback.pirkanmaa"]
    assert [f.key for f in feedback] == [b"RPI1", None]
    assert all(o.size <= LIMIT for o in outputs)


def test_a_dead_letter_points_to_what_is_wrong_as_the_feedback_does() -> None:
    record = Record("dept.pirkanmaa.unit-status", b"RPI1", b"{}", (), partition=2, offset=7)
    wrong = Rejection(Reason.SCHEMA_INVALID, "/data/crew: too small", pointer="/data/crew")
    out = dead_letter(DeadLetter(record, "pirkanmaa", "unit-status", wrong), LIMIT)
    assert headers_of(out)["hub.error.pointer"] == b"/data/crew"
    whole = Rejection(Reason.VALUE_NOT_JSON, "not JSON", pointer="")
    out = dead_letter(DeadLetter(record, "pirkanmaa", "unit-status", whole), LIMIT)
    assert headers_of(out)["hub.error.pointer"] == b""
    key = Rejection(Reason.KEY_MISMATCH, "the key is not the unit id", pointer=None)
    out = dead_letter(DeadLetter(record, "pirkanmaa", "unit-status", key), LIMIT)
    assert "hub.error.pointer" not in headers_of(out)  # the record key: no pointer into it
