"""CloudEvents 1.0 envelope: mirrors schemas/envelope/v1.json.

The hub reads structured mode (the whole event as the JSON value) and binary
mode (attributes as ce_* headers, data as the value).
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pelastus_hub.contract.common import JsonInt, Timestamp
from pelastus_hub.contract.incident import IncidentV1
from pelastus_hub.contract.readiness import ReadinessV1
from pelastus_hub.contract.unit_status import UnitStatusV1

EventMode = Literal["actual", "exercise", "test"]
TYPE_PATTERN = re.compile(
    r"^fi\.pelastus\.(?P<family>[a-z]+(?:-[a-z]+)*)\.v(?P<major>[1-9][0-9]*)$"
)
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "time")
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"


class Envelope(BaseModel):
    """The context attributes, without data.

    Extension attributes are allowed with CloudEvents' scalar types (string,
    integer, boolean), which also keeps NaN and infinities out of the envelope.
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    __pydantic_extra__: dict[str, bool | Annotated[int, JsonInt] | str] = Field(init=False)

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    type: Annotated[str, StringConstraints(pattern=TYPE_PATTERN.pattern, max_length=128)]
    time: Timestamp
    datacontenttype: Literal["application/json"] = "application/json"
    # Extension attribute: exercise and test events never count as real capability.
    mode: EventMode = "actual"


# Whole events of each family's newest major version: one parse validates envelope and data.


class UnitStatusEvent(Envelope):
    type: Literal["fi.pelastus.unit-status.v1"]
    data: UnitStatusV1


class IncidentEvent(Envelope):
    type: Literal["fi.pelastus.incident.v1"]
    data: IncidentV1


class ReadinessEvent(Envelope):
    type: Literal["fi.pelastus.readiness.v1"]
    data: ReadinessV1


def parse_type(value: str) -> tuple[str, int] | None:
    match = TYPE_PATTERN.match(value)
    if match is None:
        return None
    return match["family"], int(match["major"])


def binary_mode_event(headers: dict[str, bytes], data: Any) -> dict[str, Any]:
    """Rebuild a structured event from ce_* headers (CloudEvents Kafka binding)."""
    event: dict[str, Any] = {
        name[3:]: value.decode("utf-8") for name, value in headers.items() if name.startswith("ce_")
    }
    event["data"] = data
    return event
