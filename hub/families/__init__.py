"""What the hub knows of each message family: its models, key and event time."""

from dataclasses import dataclass

from pelastus_hub.contract.envelope import Envelope, IncidentEvent, ReadinessEvent, UnitStatusEvent
from pelastus_hub.contract.incident import IncidentV1
from pelastus_hub.contract.readiness import ReadinessV1
from pelastus_hub.contract.unit_status import UnitStatusV1
from pydantic import BaseModel


@dataclass(frozen=True)
class Family:
    name: str
    # (major version) -> data model of its newest revision; every major version the hub accepts.
    models: dict[int, type[BaseModel]]
    # Envelope and data of the newest version in one model: the fast path.
    event_model: type[Envelope]
    key_field: str
    time_field: str
    # The data field with a municipality code, checked against schemas/municipalities.json.
    municipality_field: str | None = None


UNIT_STATUS = Family(
    name="unit-status",
    models={1: UnitStatusV1},
    event_model=UnitStatusEvent,
    key_field="unit_id",
    time_field="observed_at",
)
INCIDENT = Family(
    name="incident",
    models={1: IncidentV1},
    event_model=IncidentEvent,
    key_field="incident_id",
    time_field="occurred_at",
    municipality_field="municipality_code",
)
READINESS = Family(
    name="readiness",
    models={1: ReadinessV1},
    event_model=ReadinessEvent,
    key_field="station_id",
    time_field="observed_at",
)
FAMILIES = {f.name: f for f in (UNIT_STATUS, INCIDENT, READINESS)}
