"""The department registry (schemas/departments.json) and the topics it implies."""

from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from hub.contracts.common import DepartmentCode
from hub.topics import input_topic


class County(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    name_fi: str
    name_sv: str


class Department(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: DepartmentCode
    name_fi: str
    name_sv: str
    counties: tuple[County, ...]
    cooperation_area: str


class CooperationArea(BaseModel):
    model_config = ConfigDict(frozen=True)
    name_fi: str
    name_sv: str
    lead_department: str
    membership_confirmed: bool


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    version: int
    cooperation_areas: dict[str, CooperationArea]
    departments: tuple[Department, ...]

    @classmethod
    def load(cls, schemas_dir: Path) -> "Registry":
        return cls.model_validate_json((schemas_dir / "departments.json").read_bytes())

    @cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(d.code for d in self.departments)

    def input_topics(self, family: str) -> dict[str, str]:
        """Topic name -> department code, for one message family."""
        return {input_topic(d.code, family): d.code for d in self.departments}
