"""The registries in schemas/: departments (and the topics they imply) and municipalities."""

import json
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pelastus_hub.contract.common import DepartmentCode
from pelastus_hub.contract.topics import input_topic


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


class Municipality(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    name_fi: str
    name_sv: str
    county: str | None = None  # wellbeing services county; pseudo-codes have none


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    version: int
    cooperation_areas: dict[str, CooperationArea]
    departments: tuple[Department, ...]
    # Statistics Finland's classification, and its pseudo-codes (unknown, abroad).
    municipalities: tuple[Municipality, ...]

    @classmethod
    def load(cls, schemas_dir: Path) -> "Registry":
        document = json.loads((schemas_dir / "departments.json").read_bytes())
        listed = json.loads((schemas_dir / "municipalities.json").read_bytes())
        document["municipalities"] = [*listed["municipalities"], *listed["pseudo_codes"]]
        return cls.model_validate(document)

    @cached_property
    def codes(self) -> frozenset[str]:
        return frozenset(d.code for d in self.departments)

    @cached_property
    def municipality_codes(self) -> frozenset[str]:
        return frozenset(m.code for m in self.municipalities)

    def input_topics(self, family: str) -> dict[str, str]:
        """Topic name -> department code, for one message family."""
        return {input_topic(d.code, family): d.code for d in self.departments}
