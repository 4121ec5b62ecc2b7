"""What the hub knows of each message family: its models, key and event time."""

from dataclasses import dataclass

from pydantic import BaseModel

from hub.contracts.envelope import Envelope, UnitStatusEvent
from hub.contracts.unit_status import UnitStatusV1


@dataclass(frozen=True)
class Family:
    name: str
    # (major version) -> data model; every major version the hub accepts.
    models: dict[int, type[BaseModel]]
    # Envelope and data of the newest version in one model: the fast path.
    event_model: type[Envelope]
    key_field: str
    time_field: str


UNIT_STATUS = Family(
    name="unit-status",
    models={1: UnitStatusV1},
    event_model=UnitStatusEvent,
    key_field="unit_id",
    time_field="observed_at",
)
FAMILIES = {f.name: f for f in (UNIT_STATUS,)}
