"""Field types shared by the message models.

Each type accepts exactly what its JSON Schema counterpart accepts. Patterns use
[0-9] rather than \\d and are matched by pydantic's Rust regex, whose `$` (like
ECMA-262's, the dialect JSON Schema names) does not match before a final newline.
"""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

# Closed content model, and no coercion: "4" is not a crew count.
MESSAGE_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True)

TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)


def _parse_timestamp(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # left for the datetime validator to reject as not a string
    if not _TIMESTAMP.fullmatch(value):
        raise ValueError(
            "expected an RFC 3339 date-time with a UTC offset, e.g. 2026-11-28T07:45:12+02:00"
        )
    # The pattern admits 2026-02-30; fromisoformat rejects it, as RFC 3339 does.
    return datetime.fromisoformat(value)


def _integral_float_to_int(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_parse_timestamp)]
JsonInt = BeforeValidator(_integral_float_to_int)
DepartmentCode = Annotated[str, StringConstraints(pattern=r"^[a-z]+(-[a-z]+)*$", max_length=40)]
UnitId = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{2,15}$")]
StationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
IncidentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


def required_for(field: str, when: str) -> PydanticCustomError:
    """A conditional requirement's error; ctx names the field, for the error's JSON pointer."""
    return PydanticCustomError(
        "missing", "Field required when {when}", {"field": field, "when": when}
    )


def not_allowed_for(field: str, when: str) -> PydanticCustomError:
    return PydanticCustomError(
        "extra_forbidden", "Field not allowed when {when}", {"field": field, "when": when}
    )
