"""The common case's decoder: a valid structured-mode unit-status event, in about two thirds
of the time of its pydantic model (UnitStatusEvent).

It accepts only what the model accepts, and gives the same values. Whatever it does not
accept goes to the model, which decides and says why: any fault, but also what this
decoder is too narrow for (an extension attribute, a crew written 3.0, a number beyond
a float's range). tests/unit/test_quick_decode.py holds it to the model.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from pelastus_hub.contract.common import (
    TIMESTAMP_PATTERN,
    DepartmentCode,
    IncidentId,
    StationId,
    UnitId,
)
from pelastus_hub.contract.envelope import EventMode
from pelastus_hub.contract.unit_status import Capability, UnitStatus, UnitType


def _text(constrained: Any) -> Any:
    """msgspec's form of a constrained string type of the models. Their patterns end in `$`,
    which in Python's `re` (msgspec's) also matches before a final newline; `\\Z` matches
    only at the end, as `$` does in the models' regex."""
    rule = constrained.__metadata__[0]
    return Annotated[
        str,
        msgspec.Meta(pattern=rule.pattern.removesuffix("$") + r"\Z", max_length=rule.max_length),
    ]


# Checked as text; decode_unit_status() then makes it a datetime by the model's own call.
Timestamp = Annotated[str, msgspec.Meta(pattern=TIMESTAMP_PATTERN.removesuffix("$") + r"\Z")]


class QuickPosition(msgspec.Struct, forbid_unknown_fields=True):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class QuickUnitStatus(msgspec.Struct, forbid_unknown_fields=True):
    department: _text(DepartmentCode)  # type: ignore[valid-type]
    unit_id: _text(UnitId)  # type: ignore[valid-type]
    unit_type: UnitType
    status: UnitStatus
    station_id: _text(StationId)  # type: ignore[valid-type]
    crew: Annotated[int, msgspec.Meta(ge=0, le=30)]
    capabilities: Annotated[list[_text(Capability)], msgspec.Meta(max_length=32)]  # type: ignore[valid-type]
    # The text on decoding; decode_unit_status() puts its datetime in its place.
    observed_at: Timestamp
    position: QuickPosition | None = None
    incident_id: _text(IncidentId) | None = None  # type: ignore[valid-type]


class QuickUnitStatusEvent(msgspec.Struct, forbid_unknown_fields=True):
    specversion: Literal["1.0"]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    type: Literal["fi.pelastus.unit-status.v1"]
    time: Timestamp
    data: QuickUnitStatus
    datacontenttype: Literal["application/json"] = "application/json"
    mode: EventMode = "actual"


_DECODER = msgspec.json.Decoder(QuickUnitStatusEvent)


def decode_unit_status(value: bytes) -> QuickUnitStatusEvent | None:
    """The event, with data.observed_at a datetime; None if this decoder does not accept it."""
    try:
        event = _DECODER.decode(value)
        data = event.data
        capabilities = data.capabilities
        if len(set(capabilities)) != len(capabilities):
            return None
        # The pattern admits 2026-02-30, which fromisoformat refuses, as the model does.
        datetime.fromisoformat(event.time)
        data.observed_at = datetime.fromisoformat(data.observed_at)  # type: ignore[assignment]
    except (msgspec.DecodeError, ValueError):  # ValidationError is a DecodeError
        return None
    return event
