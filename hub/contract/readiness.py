"""Station readiness, version 1: mirrors schemas/readiness/v1.0.json, its newest revision."""

from typing import Annotated

from pydantic import BaseModel, Field

from pelastus_hub.contract.common import (
    MESSAGE_CONFIG,
    DepartmentCode,
    JsonInt,
    StationId,
    Timestamp,
)

Headcount = Annotated[int, JsonInt, Field(ge=0, le=500)]


class OnDuty(BaseModel):
    model_config = MESSAGE_CONFIG

    firefighters: Headcount
    officers: Headcount
    ems: Headcount


class ReadinessV1(BaseModel):
    model_config = MESSAGE_CONFIG

    department: DepartmentCode
    station_id: StationId
    on_duty: OnDuty
    volunteers_available: Headcount
    observed_at: Timestamp
