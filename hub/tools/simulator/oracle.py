"""The oracle: what the hub must end up with after simulated messages."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pelastus_hub.tools.simulator.message import Message, message_data

OPENING_ATTRIBUTES = ("incident_type", "urgency", "municipality_code", "risk_class", "grid_square")


def final_states(messages: Iterable[Message]) -> dict[str, dict[str, Any]]:
    """Expected latest data per unit key: that of its valid message with the latest observed_at."""
    valid = [
        (m.entity_key, message_data(m))
        for m in messages
        if m.kind == "valid" and m.family == "unit-status"
    ]
    valid.sort(key=lambda item: datetime.fromisoformat(item[1]["observed_at"]))
    return {key: data for key, data in valid}


def ground_truth(messages: Iterable[Message]) -> dict[str, Any]:
    """What the hub must know after these messages, worked out from the simulation's own
    valid messages, not by the hub's code: the oracle tests compare the hub with.

    units: the latest data per unit (final_states). stations: the latest readiness per
    station. incidents: per incident its alarm time, attributes, per unit the dispatch
    and arrival times, its end, and the first unit's response time in seconds.
    """
    messages = list(messages)
    stations: dict[str, dict[str, Any]] = {}
    incidents: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message.kind != "valid" or message.family == "unit-status":
            continue
        data = message_data(message)
        key = message.entity_key
        if message.family == "readiness":
            seen = stations.get(key)  # type: ignore[arg-type]
            if seen is None or _time(data["observed_at"]) > _time(seen["observed_at"]):
                stations[key] = data  # type: ignore[index]
            continue
        incident = incidents.setdefault(  # type: ignore[arg-type]
            key,
            {
                "department": data["department"],
                "incident_id": data["incident_id"],
                "opened_at": None,  # until its opened event is sent (it may be held back)
                "units": {},
                "ended": None,
            },
        )
        if data["event"] == "opened":
            incident["opened_at"] = data["occurred_at"]
            incident.update({k: v for k, v in data.items() if k in OPENING_ATTRIBUTES})
        elif data["event"] in ("unit_dispatched", "unit_on_scene"):
            times = incident["units"].setdefault(data["unit_id"], [None, None])
            times[1 if data["event"] == "unit_on_scene" else 0] = data["occurred_at"]
        else:
            incident["ended"] = data["event"]
    for incident in incidents.values():
        arrivals = [_time(t) for _, t in incident["units"].values() if t]
        first = min(arrivals, default=None)
        opened = incident["opened_at"]
        incident["response_seconds"] = (
            (first - _time(opened)).total_seconds() if first and opened else None
        )
    return {"units": final_states(messages), "stations": stations, "incidents": incidents}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
