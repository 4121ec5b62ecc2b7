"""What the contract fixes of a message family, as the validator reads it."""

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from pelastus_hub.contract.envelope import Envelope


class FamilyContract(Protocol):
    name: str
    # (major version) -> data model of its newest revision; every major version accepted.
    models: Mapping[int, type[BaseModel]]
    # Envelope and data of the newest version in one model: the fast path.
    event_model: type[Envelope]
    # A quicker decoder still of the common case, where there is one: the event, as the
    # model would give it, or None to leave the value to the model.
    quick_decode: Callable[[bytes], Any | None] | None
    # The data fields that key an event (the record key too) and give its event time.
    key_field: str
    time_field: str
    # The data field with a municipality code, checked against schemas/municipalities.json.
    municipality_field: str | None
