"""Incident, version 1: mirrors schemas/incident/v1.1.json, its newest revision.

Optional fields are absent or valid, never null: the defaults are not validated,
so None means absent, and an explicit null fails the strict type.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints, model_validator

from pelastus_hub.contract.common import (
    MESSAGE_CONFIG,
    DepartmentCode,
    IncidentId,
    Timestamp,
    UnitId,
    not_allowed_for,
    required_for,
)

IncidentEventKind = Literal["opened", "unit_dispatched", "unit_on_scene", "closed", "cancelled"]
UNIT_EVENTS = frozenset({"unit_dispatched", "unit_on_scene"})
IncidentType = Literal[
    "building_fire",
    "building_fire_risk",
    "vehicle_fire",
    "wildland_fire",
    "other_fire",
    "traffic_accident",
    "person_rescue",
    "damage_control",
    "automatic_fire_alarm",
    "first_response",
    "assistance",
    "check_verify",
    "other",
]
Urgency = Literal["A", "B", "C", "D"]
RiskClass = Literal["I", "II", "III", "IV"]
MunicipalityCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}$")]
GridSquare = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}:[0-9]{3}$")]
# What the alarm (opened) must say about the incident.
OPENING_FIELDS = ("incident_type", "urgency", "municipality_code")


class IncidentV1(BaseModel):
    model_config = MESSAGE_CONFIG

    department: DepartmentCode
    incident_id: IncidentId
    event: IncidentEventKind
    occurred_at: Timestamp
    incident_type: IncidentType = None  # type: ignore[assignment]
    urgency: Urgency = None  # type: ignore[assignment]
    municipality_code: MunicipalityCode = None  # type: ignore[assignment]
    risk_class: RiskClass = None  # type: ignore[assignment]
    grid_square: GridSquare = None  # type: ignore[assignment]  # since revision 1
    unit_id: UnitId = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _event_fields(self) -> "IncidentV1":
        if self.event == "opened":
            for field in OPENING_FIELDS:
                if getattr(self, field) is None:
                    raise required_for(field, "event is opened")
        if self.event in UNIT_EVENTS and self.unit_id is None:
            raise required_for("unit_id", f"event is {self.event}")
        if self.event not in UNIT_EVENTS and self.unit_id is not None:
            raise not_allowed_for("unit_id", f"event is {self.event}")
        return self
