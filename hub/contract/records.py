"""What the validator reads and what it decides: an input record, a valid event or a rejection."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pelastus_hub.contract.reasons import Reason


class InputRecord(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Record:
    """A record made here rather than consumed (by validate, the publisher, tests)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    # Known only once a broker has the record; the Validator does not read them.
    partition: int = -1
    offset: int = -1


# Not frozen: one is made per accepted record, and a frozen dataclass's __init__ costs
# several times more. Nothing changes one once made.
@dataclass(slots=True)
class ValidEvent:
    source: str
    id: str
    # The family's data: its model's instance, or the quick decoder's with the same fields
    # and values (pelastus_hub.contract.quick_decode).
    data: Any
    entity_id: str
    event_time: datetime
    mode: str = "actual"  # the envelope's mode: actual, exercise or test


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    message: str
    event_id: str | None = None
    # JSON pointer into the event (structured mode) of what is wrong: "" for the
    # whole value, None when the fault is outside it (the record key).
    pointer: str | None = ""
