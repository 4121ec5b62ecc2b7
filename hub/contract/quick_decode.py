"""The common case's decoder: a valid structured-mode unit-status event, in about a third of
the time of its pydantic model (UnitStatusEvent).

It accepts only what the model accepts, and gives the same values. Whatever it does not
accept goes to the model, which decides and says why: any fault, but also what this
decoder is too narrow for (an extension attribute, a crew written 3.0, a number beyond
a float's range). tests/unit/test_quick_decode.py holds it to the model.
"""

import re
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

# The most texts a rule keeps as passed; then it starts again. Well above the country's
# units, stations and capabilities: only incident ids come and go.
KNOWN_LIMIT = 16384


def _full_match(pattern: str) -> re.Pattern[str]:
    """The models' patterns end in `$`, which in Python's `re` also matches before a final
    newline; `\\Z` matches only at the end, as `$` does in the models' regex."""
    return re.compile(pattern.removesuffix("$") + r"\Z")


class _Rule:
    """A constrained text of the models, and the texts that have passed it. Departments,
    units, stations and capabilities recur in nearly every event: a set lookup stands in
    for their pattern, which costs about eight times as much."""

    __slots__ = ("max_length", "passed", "pattern")

    def __init__(self, constrained: Any) -> None:
        rule = constrained.__metadata__[0]
        self.pattern = _full_match(rule.pattern)
        self.max_length = rule.max_length
        self.passed: set[str] = set()

    def check(self, text: str) -> bool:
        """Whether the text passes, checked in full: call it only for a text not yet passed."""
        if self.pattern.match(text) is None or (
            self.max_length is not None and len(text) > self.max_length
        ):
            return False
        if len(self.passed) >= KNOWN_LIMIT:
            self.passed.clear()
        self.passed.add(text)
        return True


_DEPARTMENT, _UNIT, _STATION, _INCIDENT, _CAPABILITY = (
    _Rule(t) for t in (DepartmentCode, UnitId, StationId, IncidentId, Capability)
)
_TIMESTAMP = _full_match(TIMESTAMP_PATTERN)


class QuickPosition(msgspec.Struct, forbid_unknown_fields=True):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


# The constrained texts are plain here: decode_unit_status() checks them by their _Rule.
class QuickUnitStatus(msgspec.Struct, forbid_unknown_fields=True):
    department: str
    unit_id: str
    unit_type: UnitType
    status: UnitStatus
    station_id: str
    crew: Annotated[int, msgspec.Meta(ge=0, le=30)]
    capabilities: Annotated[list[str], msgspec.Meta(max_length=32)]
    # The text on decoding; decode_unit_status() puts its datetime in its place.
    observed_at: str
    position: QuickPosition | None = None
    incident_id: str | None = None


class QuickUnitStatusEvent(msgspec.Struct, forbid_unknown_fields=True):
    specversion: Literal["1.0"]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    type: Literal["fi.pelastus.unit-status.v1"]
    time: str
    data: QuickUnitStatus
    datacontenttype: Literal["application/json"] = "application/json"
    mode: EventMode = "actual"


_DECODER = msgspec.json.Decoder(QuickUnitStatusEvent)


def decode_unit_status(value: bytes) -> QuickUnitStatusEvent | None:
    """The event, with data.observed_at a datetime; None if this decoder does not accept it."""
    try:
        event = _DECODER.decode(value)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        return None
    data = event.data
    if not (
        (data.department in _DEPARTMENT.passed or _DEPARTMENT.check(data.department))
        and (data.unit_id in _UNIT.passed or _UNIT.check(data.unit_id))
        and (data.station_id in _STATION.passed or _STATION.check(data.station_id))
        and (
            data.incident_id is None
            or data.incident_id in _INCIDENT.passed
            or _INCIDENT.check(data.incident_id)
        )
    ):
        return None
    capabilities = data.capabilities
    for name in capabilities:
        if name not in _CAPABILITY.passed and not _CAPABILITY.check(name):
            return None
    if len(set(capabilities)) != len(capabilities):
        return None
    observed_at, time = data.observed_at, event.time
    if _TIMESTAMP.match(observed_at) is None:
        return None
    try:
        # The pattern admits 2026-02-30, which fromisoformat refuses, as the model does.
        observed = datetime.fromisoformat(observed_at)
        # The event's time is most often when the unit was seen: then it is checked once.
        if time != observed_at:
            if _TIMESTAMP.match(time) is None:
                return None
            datetime.fromisoformat(time)
    except ValueError:
        return None
    data.observed_at = observed  # type: ignore[assignment]
    return event
