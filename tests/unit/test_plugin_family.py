"""A fourth family plugs in as one module's worth of declarations, touching no core module.

`vehicle-position` exists only here: its model, event model, state, store kind, codec and
part of the picture. Given to the validator, the batch pipeline, the outputs, the
snapshot and the topic plan beside the hub's own families, it is carried like them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from pelastus_hub.contract.common import Timestamp
from pelastus_hub.contract.envelope import Envelope
from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.records import Record, Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.base import Family, Holdings, PicturePart
from pelastus_hub.picture.snapshot import encode, snapshot
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.pipeline.outputs import batch_outputs
from pelastus_hub.runtime.topic_admin import hub_topics
from pelastus_hub.state.codec import StateCodec
from pelastus_hub.state.store import (
    Identity,
    LatestStore,
    Observed,
    Outcome,
    StoreContext,
    entity_key,
)
from tests.unit.helpers import NOW, SCHEMAS, snapshot_of

NAME = "vehicle-position"


class VehiclePositionV1(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    department: str
    vehicle_id: str = Field(min_length=1, max_length=32)
    lat: float = Field(ge=59.0, le=71.0)
    lon: float = Field(ge=19.0, le=32.0)
    observed_at: Timestamp


class VehiclePositionEvent(Envelope):
    type: Literal["fi.pelastus.vehicle-position.v1"]
    data: VehiclePositionV1


@dataclass(slots=True)
class VehiclePosition(Observed):
    mode: str
    department: str
    vehicle_id: str
    lat: float
    lon: float
    observed_at: datetime
    event_id: str
    recent_events: tuple[Identity, ...]

    @property
    def key(self) -> str:
        return entity_key(self.department, self.vehicle_id, self.mode)

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[Identity, ...]
    ) -> "VehiclePosition":
        data = event.data
        return cls(
            event.mode, department, event.entity_id, data.lat, data.lon, event.event_time,
            event.id, recent,
        )  # fmt: skip


@dataclass(slots=True)
class Vehicles:
    vehicles: int


def _department(held: Holdings, now: datetime) -> Vehicles:
    return Vehicles(len(held.get(NAME, ())))


def _national(parts: Mapping[str, Vehicles], stale: Sequence[str]) -> Vehicles:
    return Vehicles(sum(part.vehicles for part in parts.values()))


VEHICLE_POSITION = Family(
    name=NAME,
    models={1: VehiclePositionV1},
    event_model=VehiclePositionEvent,
    key_field="vehicle_id",
    time_field="observed_at",
    new_store=lambda context: LatestStore(VehiclePosition),
    codec=StateCodec(VehiclePosition),
    picture=PicturePart(key="vehicles", department=_department, national=_national),
)
WITH_VEHICLES = {**FAMILIES, NAME: VEHICLE_POSITION}
REGISTRY = Registry.load(SCHEMAS)


def position(event_id: str, minutes: float, lat: float = 61.5, vehicle: str = "RPI487") -> Record:
    when = NOW - timedelta(minutes=minutes)
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/pelastuslaitos/pirkanmaa/tracker",
        "type": "fi.pelastus.vehicle-position.v1",
        "time": when.isoformat(),
        "data": {
            "department": "pirkanmaa",
            "vehicle_id": vehicle,
            "lat": lat,
            "lon": 23.76,
            "observed_at": when.isoformat(),
        },
    }
    return Record("dept.pirkanmaa.vehicle-position", vehicle.encode(), orjson.dumps(event))


def test_the_validator_knows_the_new_family_only_when_given_it() -> None:
    unit_status = FAMILIES["unit-status"]
    misplaced = Record("dept.pirkanmaa.unit-status", b"RPI487", position("p-1", 1).value)
    alone = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    unknown = alone.validate(misplaced, "pirkanmaa", unit_status, NOW)
    assert isinstance(unknown, Rejection) and unknown.reason is Reason.TYPE_UNKNOWN_FAMILY
    validator = Validator(REGISTRY, WITH_VEHICLES, 1 << 20, 300)
    mismatch = validator.validate(misplaced, "pirkanmaa", unit_status, NOW)
    assert isinstance(mismatch, Rejection) and mismatch.reason is Reason.TYPE_FAMILY_MISMATCH
    valid = validator.validate(position("p-1", 1), "pirkanmaa", VEHICLE_POSITION, NOW)
    assert isinstance(valid, ValidEvent) and valid.entity_id == "RPI487"
    bad = validator.validate(position("p-2", 1, lat=80.0), "pirkanmaa", VEHICLE_POSITION, NOW)
    assert isinstance(bad, Rejection) and bad.reason is Reason.SCHEMA_INVALID
    assert bad.pointer == "/data/lat"


def test_the_new_family_goes_through_a_batch_its_changelog_and_the_snapshot() -> None:
    routes = input_routes(REGISTRY, WITH_VEHICLES.values())
    assert routes["dept.lappi.vehicle-position"] == ("lappi", VEHICLE_POSITION)
    stores = {name: family.new_store(StoreContext()) for name, family in WITH_VEHICLES.items()}
    records = [position("p-2", 1, lat=61.6), position("p-1", 2), position("p-2", 1, lat=61.6)]
    validator = Validator(REGISTRY, WITH_VEHICLES, 1 << 20, 300)
    result = process_batch(records, routes, validator, stores, NOW)
    assert result.outcomes == {
        ("pirkanmaa", NAME, Outcome.ACCEPTED): 1,
        ("pirkanmaa", NAME, Outcome.STALE): 1,
        ("pirkanmaa", NAME, Outcome.DUPLICATE): 1,
    }
    changes = [(WITH_VEHICLES[name], store.take_changes()) for name, store in stores.items()]
    [written] = batch_outputs([], [], changes, 1 << 20, NOW)
    assert written.topic == "hub.state.vehicle-position"
    restored = VEHICLE_POSITION.codec.decode(written.value, written.headers)
    assert restored == stores[NAME].states["pirkanmaa/RPI487"] and restored.lat == 61.6


def test_the_new_family_has_its_part_of_the_picture_and_its_topics() -> None:
    store = VEHICLE_POSITION.new_store(StoreContext())
    validator = Validator(REGISTRY, WITH_VEHICLES, 1 << 20, 300)
    for n, vehicle in enumerate(("RPI487", "RPI311")):
        event = validator.validate(
            position(f"p-{n}", 3, vehicle=vehicle), "pirkanmaa", VEHICLE_POSITION, NOW
        )
        assert store.apply("pirkanmaa", event) is Outcome.ACCEPTED
    built = snapshot(
        {NAME: store.states.values()}, WITH_VEHICLES.values(), ["pirkanmaa", "lappi"], 1, NOW, 900
    )
    pirkanmaa, lappi = (built.actual.departments[code] for code in ("pirkanmaa", "lappi"))
    assert pirkanmaa.parts[NAME] == Vehicles(2)
    assert pirkanmaa.freshness[NAME].freshness_seconds == 180.0
    assert not pirkanmaa.stale and lappi.stale
    assert built.actual.national.parts[NAME] == Vehicles(2)
    published = orjson.loads(encode(built))
    assert published["departments"]["pirkanmaa"]["vehicles"] == {"vehicles": 2}
    assert published["national"]["freshness"][NAME]["freshness_seconds"] == 180.0
    # The hub's own families' parts are untouched by the new one.
    without = snapshot_of([], [], [], ["pirkanmaa", "lappi"], 1, NOW, 900)
    assert without["national"]["units"] == published["national"]["units"] == 0
    names = {t.name for t in hub_topics(["pirkanmaa"], list(WITH_VEHICLES), 3, 1, 1 << 20)}
    assert {"dept.pirkanmaa.vehicle-position", "hub.state.vehicle-position"} <= names
