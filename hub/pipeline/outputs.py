"""What one batch writes besides offsets: dead letters, feedback and changed states (pure).

Every record built here fits in `limit` bytes (key, value and headers), so no
input, however large its key, value or headers, can make the hub write a record
the producer or the broker refuses. A dead letter keeps the original key, value
and headers when they fit with the hub's own headers; otherwise it leaves out
the largest of them, then the next, until the rest fits, each with a header
saying so, and the input record stays findable by `hub.error.topic`, `.partition` and
`.offset`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from pelastus_hub.contract import topics
from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import InputRecord
from pelastus_hub.contract.validator import header_bytes
from pelastus_hub.families.base import Family
from pelastus_hub.pipeline.batch import DeadLetter, Warned
from pelastus_hub.state.store import State

FEEDBACK_SCHEMA = "fi.pelastus.feedback.v1"
WARNING_MESSAGES = {
    WarningCode.INCIDENT_NOT_OPENED: "/data/incident_id: incident '{entity}' has no opened "
    "event at the hub yet; this event is kept and joins the incident when its opened arrives",
    WarningCode.LATE_FOR_KPI_WINDOW: "/data/incident_id: a KPI window of incident '{entity}' "
    "has closed; the incident keeps this event, but the window's published result does not",
}
WARNING_POINTERS = {
    WarningCode.INCIDENT_NOT_OPENED: "/data/incident_id",
    WarningCode.LATE_FOR_KPI_WINDOW: "/data/incident_id",
}
# Feedback documents are small (messages are cut at 500 characters); a key beyond this
# share of the limit is left out of the feedback record rather than make it oversized.
FEEDBACK_KEY_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)
    # Set for the changelogs (one partition each), which are sent in record batches.
    partition: int | None = None
    # What to send instead if the producer or the broker refuses this record as too large.
    smaller: "OutRecord | None" = None

    @property
    def size(self) -> int:
        return len(self.key or b"") + len(self.value or b"") + header_bytes(self.headers)


def dead_letter(letter: DeadLetter, limit: int) -> OutRecord:
    """The dead letter within limit and, should a broker refuse it anyway (its topic's limit
    set lower than the hub's), the same with the original key, value and headers left out."""
    built = _dead_letter(letter, limit)
    least = _dead_letter(letter, 0)
    return built if built == least else replace(built, smaller=least)


def _dead_letter(letter: DeadLetter, limit: int) -> OutRecord:
    record, rejection = letter.record, letter.rejection
    hub_headers: list[tuple[str, bytes | None]] = [
        ("hub.error.reason", rejection.reason.encode()),
        ("hub.error.message", rejection.message.encode()),
        ("hub.error.topic", record.topic.encode()),
        ("hub.error.partition", str(record.partition).encode()),
        ("hub.error.offset", str(record.offset).encode()),
        ("hub.error.department", letter.department.encode()),
    ]
    if rejection.pointer is not None:  # as the feedback's: "" the whole value; none, the key
        hub_headers.append(("hub.error.pointer", rejection.pointer.encode()))
    parts: dict[str, Any] = {
        "headers": list(record.headers or ()),
        "value": record.value,
        "key": record.key,
    }
    sizes = {
        "headers": header_bytes(parts["headers"]),
        "value": len(record.value or b""),
        "key": len(record.key or b""),
    }
    omitted: list[tuple[str, bytes | None]] = []
    # Room for the omission headers themselves, which are short.
    budget = limit - header_bytes(hub_headers) - 256
    for part in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if sum(sizes.values()) <= budget or not sizes[part]:
            break
        what = f"{len(parts['headers'])} headers, " if part == "headers" else ""
        omitted.append((f"hub.error.{part}_omitted", f"{what}{sizes[part]} bytes".encode()))
        parts[part], sizes[part] = ([] if part == "headers" else None), 0
    original, key, value = parts["headers"], parts["key"], parts["value"]
    if key is None and value is None:
        # Kafka clients refuse a record with neither key nor value.
        value = b""
    return OutRecord(topics.DEAD_LETTER, key, value, [*original, *hub_headers, *omitted])


def feedback(letter: DeadLetter, limit: int, now: datetime) -> OutRecord:
    rejection = letter.rejection
    return _tell(
        letter.department,
        letter.record,
        limit,
        now,
        severity="error",
        outcome="dead_lettered",
        reason=rejection.reason,
        message=rejection.message,
        pointer=rejection.pointer,
        event_id=rejection.event_id,
    )


def warning(warned: Warned, limit: int, now: datetime) -> OutRecord:
    return _tell(
        warned.department,
        warned.record,
        limit,
        now,
        severity="warning",
        outcome="accepted",
        reason=warned.code,
        message=WARNING_MESSAGES[warned.code].format(entity=warned.event.entity_id),
        pointer=WARNING_POINTERS[warned.code],
        event_id=warned.event.id,
    )


def _tell(
    department: str, record: InputRecord, limit: int, now: datetime, **about: Any
) -> OutRecord:
    """One feedback record to the department about one of its input records."""
    value = orjson.dumps(
        {
            "schema": FEEDBACK_SCHEMA,
            **about,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "hub_time": now.isoformat(),
        }
    )
    key = (
        record.key if record.key is None or len(record.key) <= limit * FEEDBACK_KEY_SHARE else None
    )
    return OutRecord(topics.feedback_topic(department), key, value)


def changelog(family: Family, changed: Iterable[State]) -> list[OutRecord]:
    """Each changed state in the family's format, marked with it (pelastus_hub.state.codec)."""
    topic, codec = topics.state_topic(family.name), family.codec
    return [
        OutRecord(topic, s.key.encode(), codec.encode(s), codec.headers, partition=0)
        for s in changed
    ]


def batch_outputs(
    dead_letters: Sequence[DeadLetter],
    warnings: Sequence[Warned],
    changes: Iterable[tuple[Family, Sequence[State]]],
    limit: int,
    now: datetime,
) -> list[OutRecord]:
    """Every record one batch writes: dead letters, feedback, warnings, changed states."""
    records = [dead_letter(letter, limit) for letter in dead_letters]
    records += [feedback(letter, limit, now) for letter in dead_letters]
    records += [warning(warned, limit, now) for warned in warnings]
    for family, changed in changes:
        records += changelog(family, changed)
    return records
