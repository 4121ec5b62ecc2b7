"""Invalid messages: a unit's status spoiled so that the hub rejects it for one reason."""

import random
from datetime import datetime, timedelta
from typing import Any

import orjson

from pelastus_hub.contract.envelope import STRUCTURED_CONTENT_TYPE
from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.tools.simulator.message import Message
from pelastus_hub.tools.simulator.world import Department, Unit, open_incident

STRUCTURED_HEADERS = (("content-type", STRUCTURED_CONTENT_TYPE.encode()),)
# invalid_message() spoils a message so that the hub rejects it for exactly its reason, for
# every reason but the size limits, which depend on settings.
BAD_KINDS = tuple(
    reason for reason in Reason if reason not in (Reason.VALUE_TOO_LARGE, Reason.HEADERS_TOO_LARGE)
)
# Deeper than the hub's JSON parser goes: too deep whatever the depth limit is set to.
TOO_DEEP = 1100


def invalid_message(
    reason: Reason,
    unit: Unit,
    event_id: str,
    clock: datetime,
    rng: random.Random,
    departments: list[Department],
) -> Message:
    """A status of the unit sent at clock, spoiled for the reason (an unknown municipality
    spoils an alarm of the unit's department instead)."""
    code = unit.department.code
    data = unit.unit_status(clock.isoformat())
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/pelastuslaitos/{code}/simulator",
        "type": "fi.pelastus.unit-status.v1",
        "time": data["observed_at"],
        "datacontenttype": "application/json",
        "data": data,
    }
    topic, key = input_topic(code, "unit-status"), unit.unit_id.encode()
    match reason:
        case Reason.ENVELOPE_FIELD_MISSING:
            del event["id"]
        case Reason.ENVELOPE_FIELD_INVALID:
            event["specversion"] = "0.3"
        case Reason.TYPE_UNKNOWN_FAMILY:
            event["type"] = "fi.pelastus.weather.v1"
        case Reason.TYPE_FAMILY_MISMATCH:  # a unit status sent to the incident topic
            topic = input_topic(code, "incident")
        case Reason.TYPE_UNKNOWN_VERSION:
            event["type"] = "fi.pelastus.unit-status.v9"
        case Reason.SCHEMA_INVALID:
            data["crew"] = -1
        case Reason.DEPARTMENT_MISMATCH:
            others = [d for d in departments if d is not unit.department]
            data["department"] = rng.choice(others).code
        case Reason.DEPARTMENT_UNKNOWN:
            data["department"] = "tuntematon"
        case Reason.KEY_MISMATCH:
            key = unit.station_id.encode()
        case Reason.MUNICIPALITY_UNKNOWN:  # an alarm in a municipality no list has
            incident = open_incident(unit.department, rng, clock, unit.position)
            event["type"] = "fi.pelastus.incident.v1"
            event["data"] = {
                "department": code,
                "incident_id": incident.incident_id,
                "event": "opened",
                **incident.attributes,
                "municipality_code": "999",
                "occurred_at": clock.isoformat(),
            }
            topic, key = input_topic(code, "incident"), incident.incident_id.encode()
        case Reason.EVENT_TIME_IN_FUTURE:
            data["observed_at"] = (clock + timedelta(days=1)).isoformat()
    value, headers = _spoiled_bytes(reason, orjson.dumps(event))
    family = topic.rsplit(".", 1)[1]
    return Message(topic, key, value, headers, f"invalid:{reason}", family)


def _spoiled_bytes(
    reason: Reason, value: bytes
) -> tuple[bytes | None, tuple[tuple[str, bytes], ...]]:
    """The value and headers of a structured event, spoiled for a reason in its bytes."""
    match reason:
        case Reason.VALUE_NOT_UTF8:
            return value.decode().encode("utf-16"), STRUCTURED_HEADERS
        case Reason.VALUE_NOT_JSON:
            return value[: len(value) // 2], STRUCTURED_HEADERS
        case Reason.VALUE_NOT_OBJECT:
            return b"[" + value + b"]", STRUCTURED_HEADERS
        case Reason.VALUE_TOO_DEEP:
            note = b',"note":' + b"[" * TOO_DEEP + b"]" * TOO_DEEP + b"}"
            return value[:-1] + note, STRUCTURED_HEADERS
        case Reason.VALUE_NULL:
            return None, ()
    return value, STRUCTURED_HEADERS
