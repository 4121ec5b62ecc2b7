"""A simulated message as produced to Kafka, and the data it carries."""

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    kind: str  # "valid", "duplicate", "out_of_order" or "invalid:<reason code>"
    family: str = "unit-status"
    # The hub's key of its entity ("<department>/<unit_id>", ...), except for invalid messages
    entity_key: str | None = None


def message_data(message: Message) -> dict[str, Any]:
    """The data of a valid, duplicate or out-of-order message, in either content mode."""
    event = orjson.loads(message.value)  # type: ignore[arg-type]
    return event if any(name == "ce_specversion" for name, _ in message.headers) else event["data"]
