"""What the contract fixes of a message family, as the validator reads it."""

from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel

from pelastus_hub.contract.envelope import Envelope


class FamilyContract(Protocol):
    name: str
    # (major version) -> data model of its newest revision; every major version accepted.
    models: Mapping[int, type[BaseModel]]
    # Envelope and data of the newest version in one model: the fast path.
    event_model: type[Envelope]
    # The data fields that key an event (the record key too) and give its event time.
    key_field: str
    time_field: str
    # The data field with a municipality code, checked against schemas/municipalities.json.
    municipality_field: str | None
