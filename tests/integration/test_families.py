"""Incident and readiness traffic through the worker on the real broker.

Outcomes per family, the decided outcomes for bad input (dead letter or accepted
with a warning), exercise traffic kept apart, producers on two schema revisions,
the state changelogs, and a restart that continues an incident from its restored
state. A broker of its own: the changelogs must hold only this scenario.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from pelastus_hub.families import FAMILIES
from tests.integration.test_worker import SCHEMAS, encode, produce, read_all

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # fixed: nothing here moves with the clock
SOURCE = "/pelastuslaitos/test/dispatch"
PI_INCIDENT = "dept.pirkanmaa.incident"
PI_READINESS = "dept.pirkanmaa.readiness"
LA_INCIDENT = "dept.lappi.incident"


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def cloud_event(event_id: str, family: str, data: dict, **envelope: object) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": f"fi.pelastus.{family}.v1",
        "time": T0.isoformat(),
        "data": data,
        **envelope,
    }


def incident(
    event_id: str,
    incident_id: str,
    kind: str,
    seconds: int,
    department: str = "pirkanmaa",
    **fields,
) -> tuple:
    data = {
        "department": department,
        "incident_id": incident_id,
        "event": kind,
        "occurred_at": at(seconds),
        **fields,
    }
    topic = PI_INCIDENT if department == "pirkanmaa" else LA_INCIDENT
    envelope = {name: fields[name] for name in ("mode", "dataschema") if name in fields}
    for name in envelope:
        del data[name]
    return (
        topic,
        incident_id.encode(),
        encode(cloud_event(event_id, "incident", data, **envelope)),
        [],
    )


def readiness(event_id: str, seconds: int, firefighters: int, **envelope: object) -> tuple:
    data = {
        "department": "pirkanmaa",
        "station_id": "PI-4",
        "on_duty": {"firefighters": firefighters, "officers": 2, "ems": 4},
        "volunteers_available": 3,
        "observed_at": at(seconds),
    }
    return (PI_READINESS, b"PI-4", encode(cloud_event(event_id, "readiness", data, **envelope)), [])


FIRE = {"incident_type": "building_fire", "urgency": "A", "municipality_code": "837"}
ALARM = {"incident_type": "automatic_fire_alarm", "urgency": "B", "municipality_code": "091"}

# PI-2's opened in binary mode: attributes as ce_* headers, the data as the value.
_PI2_OPENED = {
    "department": "pirkanmaa",
    "incident_id": "PI-2",
    "event": "opened",
    "occurred_at": at(30),
    **ALARM,
}
PI2_OPENED_BINARY = (
    PI_INCIDENT,
    b"PI-2",
    encode(_PI2_OPENED),
    [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"i5"),
        ("ce_source", SOURCE.encode()),
        ("ce_type", b"fi.pelastus.incident.v1"),
        ("ce_time", T0.isoformat().encode()),
    ],
)
SCHEMA_URL = "https://pelastus-hub.fi/schemas/incident/v1.{}.json"
VALID = [
    incident("i1", "PI-1", "opened", 0, risk_class="I", dataschema=SCHEMA_URL.format(0), **FIRE),
    incident("i2", "PI-1", "unit_dispatched", 20, unit_id="RPI1"),
    incident("i3", "PI-1", "unit_on_scene", 300, unit_id="RPI1"),
    incident("i4", "PI-2", "unit_on_scene", 100, unit_id="RPI2"),  # before its opened: a warning
    PI2_OPENED_BINARY,
    incident("i6", "PI-1", "closed", 900),
    # Revision 1 adds grid_square: a producer on it and producers on 1.0 share the topic.
    incident(
        "i8",
        "PI-1",
        "unit_dispatched",
        25,
        unit_id="RPI3",
        grid_square="6825:327",
        dataschema=SCHEMA_URL.format(1),
    ),
    incident("x1", "PI-1", "opened", 10, mode="exercise", **FIRE),
    incident("l1", "LA-1", "opened", 40, department="lappi", **dict(FIRE, municipality_code="698")),
    readiness("r1", 0, 8),
    readiness("r2", 60, 6),
    readiness("x2", 60, 1, mode="exercise"),
]
DUPLICATE = [VALID[1]]
STALE = [readiness("r0", -30, 9)]
_no_unit = incident("b1", "PI-3", "unit_dispatched", 50, unit_id="RPI1")
_no_unit_data = json.loads(_no_unit[2])
del _no_unit_data["data"]["unit_id"]
_unit_status = cloud_event(
    "b4",
    "unit-status",
    {
        "department": "pirkanmaa",
        "unit_id": "RPI1",
        "unit_type": "rescue_unit",
        "status": "on_scene",
        "station_id": "PI-4",
        "crew": 4,
        "capabilities": [],
        "observed_at": at(300),
    },
)
_role_missing = json.loads(readiness("b6", 70, 5)[2])
del _role_missing["data"]["on_duty"]["ems"]
# (reason, JSON pointer, record)
BAD = [
    ("schema_invalid", "/data/unit_id", (PI_INCIDENT, b"PI-3", encode(_no_unit_data), [])),
    (
        "municipality_unknown",
        "/data/municipality_code",
        incident("b2", "PI-4", "opened", 5, **dict(FIRE, municipality_code="999")),
    ),
    (
        "schema_invalid",
        "/data/unit_id",
        incident("b3", "PI-5", "opened", 5, unit_id="RPI1", **FIRE),
    ),
    ("type_family_mismatch", "/type", (PI_INCIDENT, b"RPI1", encode(_unit_status), [])),
    (
        "type_unknown_version",
        "/type",
        (
            PI_INCIDENT,
            b"PI-6",
            encode(
                dict(
                    json.loads(incident("b5", "PI-6", "closed", 5)[2]),
                    type="fi.pelastus.incident.v2",
                )
            ),
            [],
        ),
    ),
    ("key_mismatch", None, (PI_INCIDENT, b"PI-9", incident("b7", "PI-7", "closed", 5)[2], [])),
    ("schema_invalid", "/data/on_duty/ems", (PI_READINESS, b"PI-4", encode(_role_missing), [])),
]


async def latest_states(broker: str, family: str) -> dict[str, dict]:
    """The newest changelog record per key: what a restarted worker restores. Each record
    carries the format its state was written in."""
    records = await read_all(broker, f"hub.state.{family}")
    assert {tuple(r.headers) for r in records} == {FAMILIES[family].codec.headers}
    return {r.key.decode(): json.loads(r.value) for r in records}


BY_FAMILY = ("department", "family", "outcome")


async def test_incident_and_readiness_outcomes_state_and_feedback(broker, worker):
    records = VALID + DUPLICATE + STALE + [record for _, _, record in BAD]
    await produce(broker, records)
    totals = worker.wait_consumed(len(records), by=BY_FAMILY)
    assert totals == {
        ("pirkanmaa", "incident", "accepted"): 8,
        ("lappi", "incident", "accepted"): 1,
        ("pirkanmaa", "incident", "duplicate"): 1,
        ("pirkanmaa", "incident", "dead_lettered"): 6,
        ("pirkanmaa", "readiness", "accepted"): 3,
        ("pirkanmaa", "readiness", "stale"): 1,
        ("pirkanmaa", "readiness", "dead_lettered"): 1,
    }

    dead = await read_all(broker, "hub.dead-letter", partitions=3)
    assert sorted(dict(d.headers)["hub.error.reason"].decode() for d in dead) == sorted(
        reason for reason, _, _ in BAD
    )
    feedback = [json.loads(r.value) for r in await read_all(broker, "feedback.pirkanmaa")]
    schema = json.loads((SCHEMAS / "feedback" / "v1.json").read_text())
    for document in feedback:
        Draft202012Validator(schema, format_checker=FormatChecker()).validate(document)
    errors = [f for f in feedback if f["severity"] == "error"]
    assert sorted((f["reason"], f["pointer"] or "") for f in errors) == sorted(
        (reason, pointer or "") for reason, pointer, _ in BAD
    )
    assert all(f["outcome"] == "dead_lettered" for f in errors)
    (warning,) = [f for f in feedback if f["severity"] == "warning"]
    assert (warning["reason"], warning["outcome"], warning["event_id"], warning["pointer"]) == (
        "incident_not_opened",
        "accepted",
        "i4",
        "/data/incident_id",
    )
    warnings = worker.counter("pelastus_hub_warnings_total", ("department", "family", "warning"))
    assert warnings == {("pirkanmaa", "incident", "incident_not_opened"): 1.0}

    incidents = await latest_states(broker, "incident")
    assert set(incidents) == {
        "pirkanmaa/PI-1",
        "pirkanmaa/PI-2",
        "exercise:pirkanmaa/PI-1",
        "lappi/LA-1",
    }
    pi1 = incidents["pirkanmaa/PI-1"]
    assert pi1["opened"] == [at(0), "i1", SOURCE]
    assert pi1["units"] == {"RPI1": [at(20), at(300)], "RPI3": [at(25), None]}
    assert pi1["ended"] == [at(900), "i6", SOURCE, "closed"]
    assert {k: v[3] for k, v in pi1["attributes"].items()} == dict(
        FIRE, risk_class="I", grid_square="6825:327"
    )
    pi2 = incidents["pirkanmaa/PI-2"]
    assert pi2["opened"] == [at(30), "i5", SOURCE] and pi2["units"] == {"RPI2": [None, at(100)]}
    drill = incidents["exercise:pirkanmaa/PI-1"]
    assert drill["mode"] == "exercise" and drill["opened"] == [at(10), "x1", SOURCE]

    stations = await latest_states(broker, "readiness")
    assert set(stations) == {"pirkanmaa/PI-4", "exercise:pirkanmaa/PI-4"}
    assert stations["pirkanmaa/PI-4"]["firefighters"] == 6
    assert stations["exercise:pirkanmaa/PI-4"]["firefighters"] == 1


async def test_restarted_worker_continues_incidents_from_restored_state(broker, worker):
    assert worker.stop() == 0
    worker.start()
    closing = incident("i7", "PI-2", "closed", 1200)
    await produce(broker, [closing])
    assert worker.wait_consumed(1, by=BY_FAMILY) == {("pirkanmaa", "incident", "accepted"): 1}
    # Its opened came before the restart: known from the changelog, so no warning now.
    assert worker.counter("pelastus_hub_warnings_total", ("warning",)) == {}
    pi2 = (await latest_states(broker, "incident"))["pirkanmaa/PI-2"]
    assert pi2["opened"] == [at(30), "i5", SOURCE]
    assert pi2["units"] == {"RPI2": [None, at(100)]}
    assert pi2["ended"] == [at(1200), "i7", SOURCE, "closed"]


async def test_kpi_api_answers_and_explains_what_it_cannot(broker, worker):
    status, result = worker.get_json("/api/v1/kpi?department=pirkanmaa&window=day")
    assert status == 200 and result["department"] == "pirkanmaa"
    assert result["window"]["kind"] == "day" and result["final"] is False
    assert result["urgent_incidents"] >= 1  # PI-1, urgency A, opened in this day
    schema = json.loads((SCHEMAS / "kpi" / "v1.json").read_text())
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(result)
    for query, status_expected, error in (
        ("department=narnia", 404, "unknown_department"),
        ("", 400, "missing_parameter"),
        ("department=", 400, "missing_parameter"),
        ("window=day", 400, "missing_parameter"),
        ("department=pirkanmaa&window=week", 400, "bad_window"),
        ("department=pirkanmaa&start=yesterday", 400, "bad_start"),
        ("department=pirkanmaa&start=2026-11-28T07:00:00", 400, "bad_start"),
        ("department=kainuu", 404, "no_kpi_yet"),
        # Over long ago, with no final result: no window of zeros that looks open.
        ("department=pirkanmaa&start=2020-01-01T00:00:00%2B00:00", 404, "no_kpi_for_window"),
        # The hour before T0's: over, and no incident of pirkanmaa in it.
        ("department=pirkanmaa&start=2026-11-02T07:00:00%2B00:00", 404, "no_kpi_for_window"),
    ):
        status, body = worker.get_json(f"/api/v1/kpi?{query}")
        assert (status, body["error"]) == (status_expected, error), query
        assert body["message"]
    _, body = worker.get_json("/api/v1/kpi")
    assert body["message"].startswith("give department=<code>, one of ")
    _, body = worker.get_json("/api/v1/kpi?department=pirkanmaa&start=2020-01-01T00:00:00%2B00:00")
    assert "before what the hub keeps" in body["message"]
