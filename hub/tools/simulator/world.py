"""The simulated departments: their stations, units and incidents, built from a seed.

Plausible shapes, not any department's real data: fleet sizes, call-sign digits,
staffing and incident mixes are illustrative. Municipalities are real (each
department's incidents happen in the municipalities of the counties it serves).
"""

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pelastus_hub.contract.registry import Registry

# unit type: (weight, last call-sign digit, crew range, capabilities it may carry).
UNIT_KINDS: dict[str, tuple[float, int, tuple[int, int], tuple[str, ...]]] = {
    "rescue_unit": (30, 1, (4, 6), ("smoke_diving", "hydraulic_tools", "first_response")),
    "spearhead_unit": (14, 2, (2, 3), ("smoke_diving", "first_response")),
    "tank_unit": (12, 3, (1, 2), ("water_supply",)),
    "ems_unit": (26, 6, (2, 3), ("advanced_life_support", "basic_life_support")),
    "aerial_unit": (5, 4, (1, 2), ("aerial_ladder",)),
    "command_unit": (5, 0, (1, 2), ()),
    "water_rescue_unit": (4, 7, (2, 4), ("water_rescue", "ice_rescue", "boat")),
    "first_response_unit": (2, 8, (2, 4), ("first_response",)),
    "hazmat_unit": (1, 5, (3, 6), ("chemical_protection", "decontamination")),
    "support_unit": (1, 9, (1, 2), ()),
    "other": (0.5, 9, (1, 6), ()),
}
UNIT_WEIGHTS = [weight for weight, *_ in UNIT_KINDS.values()]
AT_STATION = ("available_at_station", "out_of_service", "reserved")
# incident type: (weight, urgency weights A, B, C, D); automatic alarms are mostly B.
INCIDENT_KINDS: dict[str, tuple[float, tuple[float, float, float, float]]] = {
    "first_response": (25, (60, 30, 10, 0)),
    "automatic_fire_alarm": (15, (0, 95, 5, 0)),
    "traffic_accident": (10, (50, 35, 15, 0)),
    "check_verify": (10, (0, 30, 40, 30)),
    "assistance": (8, (5, 20, 50, 25)),
    "damage_control": (6, (10, 30, 40, 20)),
    "building_fire": (5, (85, 15, 0, 0)),
    "building_fire_risk": (5, (40, 50, 10, 0)),
    "person_rescue": (4, (80, 20, 0, 0)),
    "vehicle_fire": (3, (50, 40, 10, 0)),
    "wildland_fire": (3, (40, 40, 20, 0)),
    "other_fire": (3, (30, 40, 30, 0)),
    "other": (3, (0, 20, 40, 40)),
}
RISK_CLASSES = ("I", "II", "III", "IV")
RISK_WEIGHTS = (10, 25, 40, 25)


@dataclass(slots=True, eq=False)
class Department:
    code: str
    area: str
    centre: tuple[float, float]
    incident_seq: int
    municipalities: list[str]
    # Producers on incident revision 1 send grid_square; the others are still on 1.0.
    sends_grid_square: bool
    units: list["Unit"] = field(default_factory=list)
    stations: list["Station"] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Station:
    department: Department
    station_id: str
    firefighters: int
    officers: int
    ems: int
    volunteers: int

    def readiness(self, observed_at: str) -> dict[str, Any]:
        return {
            "department": self.department.code,
            "station_id": self.station_id,
            "on_duty": {
                "firefighters": self.firefighters,
                "officers": self.officers,
                "ems": self.ems,
            },
            "volunteers_available": self.volunteers,
            "observed_at": observed_at,
        }

    def change(self, rng: random.Random) -> None:
        """A shift change or a volunteer coming or going: one count moves by one."""
        if rng.random() < 0.5:
            self.volunteers = max(0, self.volunteers + rng.choice((-1, 1)))
        else:
            self.firefighters = max(0, self.firefighters + rng.choice((-1, 1)))


@dataclass(slots=True, eq=False)
class Incident:
    department: Department
    incident_id: str
    position: tuple[float, float]
    # incident_type, urgency, municipality_code, risk_class and maybe grid_square
    attributes: dict[str, str]
    committed: int = 0  # units dispatched and not yet cleared; at zero again, closed


@dataclass(slots=True, eq=False)
class Unit:
    department: Department
    unit_id: str
    unit_type: str
    station_id: str
    home: tuple[float, float]
    crew: int
    capabilities: list[str]
    status: str
    position: tuple[float, float]
    incident: Incident | None = None
    # (observed_at, data) of the last two valid statuses: out-of-order messages replay the older.
    sent: deque[tuple[datetime, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=2))

    def unit_status(self, observed_at: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "department": self.department.code,
            "unit_id": self.unit_id,
            "unit_type": self.unit_type,
            "status": self.status,
            "station_id": self.station_id,
            "crew": 0 if self.status == "out_of_service" else self.crew,
            "capabilities": self.capabilities,
            "position": {"lat": self.position[0], "lon": self.position[1]},
            "observed_at": observed_at,
        }
        if self.incident is not None:
            data["incident_id"] = self.incident.incident_id
        return data


def area_letters(code: str) -> str:
    # pirkanmaa -> PI, etela-savo -> ES: unconfirmed as the departments' real prefixes.
    parts = code.split("-")
    return (parts[0][0] + parts[1][0] if len(parts) > 1 else code[:2]).upper()


def near(rng: random.Random, centre: tuple[float, float], spread: float) -> tuple[float, float]:
    # A degree of longitude is about half a degree of latitude this far north.
    lat = centre[0] + rng.uniform(-spread, spread)
    return round(lat, 5), round(centre[1] + rng.uniform(-2 * spread, 2 * spread), 5)


def grid_square(position: tuple[float, float]) -> str:
    """A rough ETRS-TM35FIN kilometre square (northing:easting) near the position."""
    lat, lon = position
    northing = round(lat * 111.2)
    easting = round(500 + (lon - 27) * 111.2 * math.cos(math.radians(lat)))
    return f"{northing:04d}:{min(max(easting, 100), 999):03d}"


def build_departments(registry: Registry, rng: random.Random) -> list[Department]:
    by_county: dict[str, list[str]] = {}
    for municipality in registry.municipalities:
        if municipality.county is not None:
            by_county.setdefault(municipality.county, []).append(municipality.code)
    departments = []
    for index, entry in enumerate(registry.departments):
        # A random centre in Finland's rough bounding box, not the department's real area.
        centre = (rng.uniform(60.0, 68.5), rng.uniform(21.5, 30.0))
        municipalities = [code for c in entry.counties for code in by_county.get(c.code, [])]
        department = Department(
            entry.code,
            area_letters(entry.code),
            centre,
            rng.randint(1, 90_000),
            municipalities,
            sends_grid_square=index % 2 == 0,
        )
        _equip(department, rng)
        departments.append(department)
    return departments


def _equip(department: Department, rng: random.Random) -> None:
    area = department.area
    for number in range(1, rng.randint(3, 12) + 1):
        home = near(rng, department.centre, 0.4)
        station_id = f"{area}-{number}"
        ems_crews = 0
        for index in range(1, rng.randint(2, 5) + 1):
            kind = rng.choices(list(UNIT_KINDS), UNIT_WEIGHTS)[0]
            _, digit, crew, capabilities = UNIT_KINDS[kind]
            agency = "E" if kind == "ems_unit" else "R"  # ensihoito, else pelastus
            unit_id = f"{agency}{area}{number}{index}{digit}"
            kit = rng.sample(capabilities, rng.randint(0, len(capabilities)))
            status = rng.choices(AT_STATION, (85, 10, 5))[0]
            members = rng.randint(*crew)
            ems_crews += members if kind == "ems_unit" else 0
            unit = Unit(department, unit_id, kind, station_id, home, members, kit, status, home)
            department.units.append(unit)
        if rng.random() < 0.4:  # a career station; the rest rely on contract firefighters
            staff = (rng.randint(4, 12), rng.randint(1, 2), ems_crews, rng.randint(0, 5))
        else:
            staff = (rng.randint(0, 2), rng.randint(0, 1), ems_crews, rng.randint(5, 25))
        department.stations.append(Station(department, station_id, *staff))


def open_incident(
    department: Department, rng: random.Random, clock: datetime, position: tuple[float, float]
) -> Incident:
    seq = department.incident_seq = department.incident_seq % 999_999 + 1
    kind = rng.choices(list(INCIDENT_KINDS), [w for w, _ in INCIDENT_KINDS.values()])[0]
    attributes = {
        "incident_type": kind,
        "urgency": rng.choices("ABCD", INCIDENT_KINDS[kind][1])[0],
        "municipality_code": rng.choice(department.municipalities),
        "risk_class": rng.choices(RISK_CLASSES, RISK_WEIGHTS)[0],
    }
    if department.sends_grid_square:
        attributes["grid_square"] = grid_square(position)
    incident_id = f"{department.area}-{clock.year}-{seq:06d}"
    return Incident(department, incident_id, position, attributes)
