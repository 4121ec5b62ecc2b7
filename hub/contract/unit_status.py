"""Unit status, version 1: mirrors schemas/unit-status/v1.0.json, its newest revision."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from pelastus_hub.contract.common import (
    MESSAGE_CONFIG,
    DepartmentCode,
    IncidentId,
    JsonInt,
    StationId,
    Timestamp,
    UnitId,
)

UnitType = Literal[
    "rescue_unit",
    "spearhead_unit",
    "tank_unit",
    "aerial_unit",
    "command_unit",
    "ems_unit",
    "first_response_unit",
    "water_rescue_unit",
    "hazmat_unit",
    "support_unit",
    "other",
]
UnitStatus = Literal[
    "out_of_service",
    "available_at_station",
    "available",
    "reserved",
    "dispatched",
    "en_route",
    "on_scene",
]
UNIT_STATUSES: tuple[str, ...] = UnitStatus.__args__


def _unique(items: list[str]) -> list[str]:
    if len(set(items)) != len(items):
        raise ValueError("items must be unique")
    return items


Capability = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Position(BaseModel):
    model_config = MESSAGE_CONFIG

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class UnitStatusV1(BaseModel):
    model_config = MESSAGE_CONFIG

    department: DepartmentCode
    unit_id: UnitId
    unit_type: UnitType
    status: UnitStatus
    station_id: StationId
    crew: Annotated[int, JsonInt, Field(ge=0, le=30)]
    capabilities: Annotated[list[Capability], Field(max_length=32), AfterValidator(_unique)]
    position: Position | None = None
    incident_id: IncidentId | None = None
    observed_at: Timestamp
