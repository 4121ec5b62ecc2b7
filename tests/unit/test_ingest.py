import json

import pytest

from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.records import Record, Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import MAX_MESSAGE_CHARS, Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.incident import FAMILY as INCIDENT
from pelastus_hub.families.readiness import FAMILY as READINESS
from pelastus_hub.families.unit_status import FAMILY as UNIT_STATUS
from tests.unit.helpers import (
    NOW,
    SCHEMAS,
    event,
    example_event,
    incident_record,
    opened,
    record,
)

VALIDATOR = Validator(
    Registry.load(SCHEMAS), FAMILIES, 4096, 300, max_header_bytes=1024, max_json_depth=8
)


def check(rec: Record, department: str = "pirkanmaa") -> ValidEvent | Rejection:
    return VALIDATOR.validate(rec, department, UNIT_STATUS, NOW)


def test_structured_event_is_valid() -> None:
    result = check(record(event()))
    assert isinstance(result, ValidEvent)
    assert (result.entity_id, result.id) == ("RPI487", "0f5c2a9e-7d1b-4a7e-9a53-3c1f6e2d8b10")
    assert result.event_time.isoformat() == "2026-11-28T07:45:12+02:00"


def test_binary_mode_event_is_valid() -> None:
    document = event()
    headers = tuple(
        (f"ce_{name}", str(value).encode())
        for name, value in document.items()
        if name not in ("data", "datacontenttype")
    )
    rec = Record(
        "dept.pirkanmaa.unit-status", b"RPI487", json.dumps(document["data"]).encode(), headers
    )
    result = check(rec)
    assert isinstance(result, ValidEvent)
    assert result.data.crew == 4


def without(document: dict, name: str) -> dict:
    return {k: v for k, v in document.items() if k != name}


BAD = {
    "null value": (record(None), Reason.VALUE_NULL, "null"),
    "too large": (record(event(station_id="S" * 5000)), Reason.VALUE_TOO_LARGE, "at most 4096"),
    "large headers": (
        Record("dept.pirkanmaa.unit-status", b"RPI487", b"{}", (("note", b"x" * 1021),)),
        Reason.HEADERS_TOO_LARGE,
        "1025 bytes; at most 1024",
    ),
    "many headers": (
        Record("dept.pirkanmaa.unit-status", b"RPI487", b"{}", (("n", b"xy"),) * 400),
        Reason.HEADERS_TOO_LARGE,
        "1200 bytes",
    ),
    "not utf-8": (record(b'{"a": "\xff"}'), Reason.VALUE_NOT_UTF8, "byte 7"),
    "not json": (record(b"{unit"), Reason.VALUE_NOT_JSON, "not JSON"),
    "json array": (record(b"[1, 2]"), Reason.VALUE_NOT_OBJECT, "JSON list"),
    "deep": (
        record(dict(event(), data={"a": [[[[[[[[1]]]]]]]]})),
        Reason.VALUE_TOO_DEEP,
        "more than 8 levels",
    ),
    "deeper than the parser goes": (
        record(b"[" * 1100 + b"]" * 1100),
        Reason.VALUE_TOO_DEEP,
        "nests too deep",
    ),
    "missing id": (record(without(event(), "id")), Reason.ENVELOPE_FIELD_MISSING, "'id'"),
    "missing time": (record(without(event(), "time")), Reason.ENVELOPE_FIELD_MISSING, "'time'"),
    "missing data": (record(without(event(), "data")), Reason.ENVELOPE_FIELD_MISSING, "'data'"),
    "specversion": (
        record(dict(event(), specversion="0.3")),
        Reason.ENVELOPE_FIELD_INVALID,
        "specversion",
    ),
    "empty source": (record(dict(event(), source="")), Reason.ENVELOPE_FIELD_INVALID, "source"),
    "bad time": (record(dict(event(), time="today")), Reason.ENVELOPE_FIELD_INVALID, "/time: "),
    "bad type": (record(dict(event(), type="unit-status")), Reason.ENVELOPE_FIELD_INVALID, "type"),
    "unknown family": (
        record(dict(event(), type="fi.pelastus.weather.v1")),
        Reason.TYPE_UNKNOWN_FAMILY,
        "'weather'",
    ),
    "unknown version": (
        record(dict(event(), type="fi.pelastus.unit-status.v2")),
        Reason.TYPE_UNKNOWN_VERSION,
        "major version 2",
    ),
    "schema": (record(event(crew=-1)), Reason.SCHEMA_INVALID, "/data/crew: "),
    "schema nested": (
        record(event(position={"lat": 91, "lon": 0})),
        Reason.SCHEMA_INVALID,
        "/data/position/lat: ",
    ),
    "extra field": (record(event(colour="red")), Reason.SCHEMA_INVALID, "/data/colour: "),
    "unknown department": (
        record(event(department="narnia")),
        Reason.DEPARTMENT_UNKNOWN,
        "'narnia'",
    ),
    "department mismatch": (
        record(event(department="lappi")),
        Reason.DEPARTMENT_MISMATCH,
        "'lappi'",
    ),
    "key mismatch": (record(event(), key=b"RPI999"), Reason.KEY_MISMATCH, "'RPI999'"),
    "no key": (record(event(), key=None), Reason.KEY_MISMATCH, "no key"),
    "future": (
        record(event(observed_at="2026-11-28T08:05:01Z")),
        Reason.EVENT_TIME_IN_FUTURE,
        "300 s ahead",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gets_its_reason_and_a_message_naming_the_field(case: str) -> None:
    rec, reason, words = BAD[case]
    result = check(rec)
    assert isinstance(result, Rejection)
    assert result.reason is reason
    assert words in result.message


def check_incident(rec: Record) -> ValidEvent | Rejection:
    return VALIDATOR.validate(rec, "pirkanmaa", INCIDENT, NOW)


# (record, reason, pointer, words in the message): each new field's violations name it.
BAD_INCIDENT = {
    "unit event without unit_id": (
        incident_record(
            example_event("incident", "valid-unit-on-scene", event="unit_dispatched", unit_id=None)
        ),
        Reason.SCHEMA_INVALID,
        "/data/unit_id",
        "/data/unit_id: Input should be a valid string",
    ),
    "unit_id left out of a unit event": (
        incident_record(
            {
                **opened(),
                "data": {
                    k: v
                    for k, v in example_event("incident", "valid-unit-on-scene")["data"].items()
                    if k != "unit_id"
                },
            }
        ),
        Reason.SCHEMA_INVALID,
        "/data/unit_id",
        "/data/unit_id: Field required when event is unit_on_scene",
    ),
    "unit_id on opened": (
        incident_record(opened(unit_id="RPI487")),
        Reason.SCHEMA_INVALID,
        "/data/unit_id",
        "Field not allowed when event is opened",
    ),
    "opened without urgency": (
        incident_record(
            {**opened(), "data": {k: v for k, v in opened()["data"].items() if k != "urgency"}}
        ),
        Reason.SCHEMA_INVALID,
        "/data/urgency",
        "/data/urgency: Field required when event is opened",
    ),
    "urgency E": (
        incident_record(opened(urgency="E")),
        Reason.SCHEMA_INVALID,
        "/data/urgency",
        "'A', 'B', 'C' or 'D'",
    ),
    "risk class V": (
        incident_record(opened(risk_class="V")),
        Reason.SCHEMA_INVALID,
        "/data/risk_class",
        "'I', 'II', 'III' or 'IV'",
    ),
    "municipality not 3 digits": (
        incident_record(opened(municipality_code="91")),
        Reason.SCHEMA_INVALID,
        "/data/municipality_code",
        "pattern",
    ),
    "unknown municipality": (
        incident_record(opened(municipality_code="999")),
        Reason.MUNICIPALITY_UNKNOWN,
        "/data/municipality_code",
        "'999' is not in the municipality list",
    ),
    "merged municipality": (  # Pertunmaa joined Mäntyharju on 1.1.2025
        incident_record(opened(municipality_code="588")),
        Reason.MUNICIPALITY_UNKNOWN,
        "/data/municipality_code",
        "use 199",
    ),
    "key is not the incident": (
        incident_record(opened(), key=b"RPI487"),
        Reason.KEY_MISMATCH,
        None,
        "/data/incident_id 'PI-2026-004512'",
    ),
    "future": (
        incident_record(opened(occurred_at="2026-11-28T09:00:00Z")),
        Reason.EVENT_TIME_IN_FUTURE,
        "/data/occurred_at",
        "ahead of the hub's clock",
    ),
    "unit-status event on the incident topic": (
        incident_record(event(), key=b"RPI487"),
        Reason.TYPE_FAMILY_MISMATCH,
        "/type",
        "carries incident events",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INCIDENT))
def test_bad_incident_gets_its_reason_and_names_the_field(case: str) -> None:
    rec, reason, pointer, words = BAD_INCIDENT[case]
    result = check_incident(rec)
    assert isinstance(result, Rejection)
    assert (result.reason, result.pointer) == (reason, pointer)
    assert words in result.message


def test_incident_events_and_pseudo_municipalities_are_valid() -> None:
    for example in ("valid-opened", "valid-unit-on-scene", "valid-closed"):
        result = check_incident(incident_record(example_event("incident", example)))
        assert isinstance(result, ValidEvent), example
    for code in ("199", "200", "091", "837"):  # unknown, abroad, Helsinki, Tampere
        assert isinstance(
            check_incident(incident_record(opened(municipality_code=code))), ValidEvent
        )


def test_readiness_is_keyed_by_station() -> None:
    document = example_event("readiness", "valid-career-station")
    good = VALIDATOR.validate(
        record(document, b"PI-4", family="readiness"), "pirkanmaa", READINESS, NOW
    )
    assert isinstance(good, ValidEvent) and good.entity_id == "PI-4"
    bad = VALIDATOR.validate(
        record(
            example_event("readiness", "valid-career-station", on_duty={"firefighters": 1}),
            b"PI-4",
            family="readiness",
        ),
        "pirkanmaa",
        READINESS,
        NOW,
    )
    assert isinstance(bad, Rejection) and bad.pointer == "/data/on_duty/officers"


def test_no_json_number_is_read_even_under_a_name_given_again() -> None:
    text = json.dumps(event(), separators=(",", ":"))
    for token in ("NaN", "Infinity", "-Infinity"):
        value = text.replace('"crew":4', f'"crew":{token},"crew":4').encode()
        result = check(record(value))
        assert isinstance(result, Rejection) and result.reason is Reason.VALUE_NOT_JSON, token
    named = json.dumps(event(station_id="NaN-station"), separators=(",", ":")).encode()
    assert isinstance(check(record(named)), ValidEvent)  # the letters in a string are fine


def test_a_deep_array_is_too_deep_before_it_is_no_object() -> None:
    result = check(record(b"[" * 20 + b"]" * 20))
    assert isinstance(result, Rejection) and result.reason is Reason.VALUE_TOO_DEEP


def test_as_deep_as_the_limit_is_no_reason() -> None:
    result = check(record(dict(event(), data={"a": [[[[[[1]]]]]]})))
    assert isinstance(result, Rejection) and result.reason is Reason.SCHEMA_INVALID


def test_binary_mode_header_error_names_the_attribute_first() -> None:
    headers = (("ce_specversion", b"1.0"), ("ce_source", b"\xff"))
    result = check(Record("dept.pirkanmaa.unit-status", b"RPI487", b"{}", headers))
    assert isinstance(result, Rejection) and result.reason is Reason.ENVELOPE_FIELD_INVALID
    assert result.pointer == "/source"
    assert result.message.startswith("/source: ")


def test_every_message_starts_with_its_pointer() -> None:
    """As the feedback schema says, for every reason that has a pointer into the event."""
    results = [check(rec) for rec, _, _ in BAD.values()]
    results += [check_incident(rec) for rec, _, _, _ in BAD_INCIDENT.values()]
    pointed = [r for r in results if isinstance(r, Rejection) and r.pointer]
    assert len(pointed) > 20
    for rejection in pointed:
        assert rejection.message.startswith(f"{rejection.pointer}: "), rejection


def test_every_reason_is_covered() -> None:
    covered = {reason for _, reason, _ in BAD.values()}
    covered |= {reason for _, reason, _, _ in BAD_INCIDENT.values()}
    assert covered == set(Reason)


# Records breaking several rules get the first reason in the documented order.
SEVERAL = {
    "data missing and bad specversion": (
        record(dict(without(event(), "data"), specversion="0.3")),
        Reason.ENVELOPE_FIELD_MISSING,
    ),
    "bad specversion and unknown version": (
        record(dict(event(), specversion="2.0", type="fi.pelastus.unit-status.v9")),
        Reason.ENVELOPE_FIELD_INVALID,
    ),
    "unknown version and bad data": (
        record(dict(event(crew=-1), type="fi.pelastus.unit-status.v9")),
        Reason.TYPE_UNKNOWN_VERSION,
    ),
    "bad data and department mismatch": (
        record(event(crew=-1, department="lappi")),
        Reason.SCHEMA_INVALID,
    ),
    "department mismatch and wrong key": (
        record(event(department="lappi"), key=b"X"),
        Reason.DEPARTMENT_MISMATCH,
    ),
    "wrong key and future": (
        record(event(observed_at="2027-01-01T00:00:00Z"), key=b"X"),
        Reason.KEY_MISMATCH,
    ),
    "too large and not utf-8": (record(b"\xff" * 5000), Reason.VALUE_TOO_LARGE),
}


@pytest.mark.parametrize("case", sorted(SEVERAL))
def test_first_broken_rule_decides_the_reason(case: str) -> None:
    rec, reason = SEVERAL[case]
    result = check(rec)
    assert isinstance(result, Rejection) and result.reason is reason


def test_binary_mode_value_is_checked_before_its_headers() -> None:
    headers = (("ce_specversion", b"1.0"), ("ce_id", b"\xff"))
    result = check(Record("dept.pirkanmaa.unit-status", b"RPI487", b"[]", headers))
    assert isinstance(result, Rejection) and result.reason is Reason.VALUE_NOT_OBJECT


def test_mode_is_read_from_either_content_mode_and_checked() -> None:
    assert check(record(event())).mode == "actual"
    assert check(record(dict(event(), mode="exercise"))).mode == "exercise"
    document = event()
    headers = (
        *(
            (f"ce_{k}", str(v).encode())
            for k, v in document.items()
            if k not in ("data", "datacontenttype")
        ),
        ("ce_mode", b"test"),
    )
    binary = Record(
        "dept.pirkanmaa.unit-status", b"RPI487", json.dumps(document["data"]).encode(), headers
    )
    assert check(binary).mode == "test"
    result = check(record(dict(event(), mode="drill")))
    assert isinstance(result, Rejection) and result.reason is Reason.ENVELOPE_FIELD_INVALID
    assert result.pointer == "/mode"


def test_huge_type_is_an_envelope_error_and_messages_stay_bounded() -> None:
    result = check(record(dict(event(), type="fi.pelastus.unit-status.v1" + "0" * 3000)))
    assert isinstance(result, Rejection) and result.reason is Reason.ENVELOPE_FIELD_INVALID
    result = check(record(dict(event(), type="fi.pelastus." + "x" * 100 + ".v1")))
    assert isinstance(result, Rejection) and result.reason is Reason.TYPE_UNKNOWN_FAMILY
    assert len(result.message) <= MAX_MESSAGE_CHARS


def test_extension_attributes_take_scalars_only() -> None:
    assert isinstance(check(record(dict(event(), region="north", priority=2))), ValidEvent)
    for bad in (b"NaN", b"1e400", b"1.5", b"[1]"):
        value = json.dumps(event()).encode()[:-1] + b', "ext": ' + bad + b"}"
        result = check(record(value))
        assert isinstance(result, Rejection), bad


def test_event_within_allowed_skew_is_valid() -> None:
    assert isinstance(check(record(event(observed_at="2026-11-28T08:04:59Z"))), ValidEvent)


def test_rejection_carries_the_event_id_when_known() -> None:
    assert check(record(event(crew=-1))).event_id == "0f5c2a9e-7d1b-4a7e-9a53-3c1f6e2d8b10"
    assert check(record(event(), key=b"X")).event_id == "0f5c2a9e-7d1b-4a7e-9a53-3c1f6e2d8b10"
    assert check(record(b"[]")).event_id is None
    assert check(record(dict(event(), id="x" * 129))).event_id is None


def test_binary_mode_with_bad_data_is_rejected() -> None:
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", b"x"),
        ("ce_source", b"/s"),
        ("ce_type", b"fi.pelastus.unit-status.v1"),
        ("ce_time", b"2026-11-28T07:00:00Z"),
    )
    result = check(Record("dept.pirkanmaa.unit-status", b"RPI487", b"not json", headers))
    assert isinstance(result, Rejection) and result.reason is Reason.VALUE_NOT_JSON
    bad_header = (*headers[:1], ("ce_id", b"\xff"), *headers[2:])
    result = check(
        Record(
            "dept.pirkanmaa.unit-status",
            b"RPI487",
            json.dumps(event()["data"]).encode(),
            bad_header,
        )
    )
    assert isinstance(result, Rejection) and result.reason is Reason.ENVELOPE_FIELD_INVALID


POINTERS = {
    "missing id": "/id",
    "specversion": "/specversion",
    "unknown version": "/type",
    "schema nested": "/data/position/lat",
    "department mismatch": "/data/department",
    "future": "/data/observed_at",
    "not json": "",
    "key mismatch": None,
}


@pytest.mark.parametrize("case", sorted(POINTERS))
def test_rejection_points_at_what_is_wrong(case: str) -> None:
    result = check(BAD[case][0])
    assert isinstance(result, Rejection) and result.pointer == POINTERS[case]
