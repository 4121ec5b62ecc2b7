import json
from dataclasses import replace
from datetime import timedelta

from jsonschema import Draft202012Validator, FormatChecker

from pelastus_hub.families.incident import IncidentState
from pelastus_hub.families.readiness import StationReadiness
from pelastus_hub.families.unit_status import UnitState, capability
from tests.unit.helpers import NOW, SCHEMAS, snapshot_of


def unit(
    department: str,
    unit_id: str,
    unit_type: str,
    status: str,
    crew: int,
    age: float,
    mode: str = "actual",
) -> UnitState:
    return UnitState(
        mode,
        department,
        unit_id,
        unit_type,
        status,
        "S1",
        crew,
        (),
        None,
        None,
        NOW - timedelta(seconds=age),
        "e",
        (("e", "/s"),),
    )


UNITS = [
    unit("pirkanmaa", "RPI1", "rescue_unit", "available_at_station", 4, 30),
    unit("pirkanmaa", "RPI2", "rescue_unit", "on_scene", 4, 10),
    unit("pirkanmaa", "RPI3", "tank_unit", "available", 2, 50),
    unit("pirkanmaa", "RPI4", "tank_unit", "out_of_service", 0, 500),
    unit("lappi", "RLA1", "rescue_unit", "dispatched", 3, 5),
    unit("lappi", "RLA2", "ems_unit", "reserved", 2, 100),
]


def test_capability_counts_classes_crew_strain_and_freshness() -> None:
    view = capability(UNITS[:4], NOW)
    assert view.units == 4
    assert (view.available, view.committed, view.out_of_service) == (2, 1, 1)
    assert view.crew_available == 6
    assert view.strain == round(1 / 3, 4)
    assert view.units_by_type["tank_unit"]["out_of_service"] == 1
    assert view.units_by_type["rescue_unit"]["on_scene"] == 1
    assert view.units_by_status["available_at_station"] == 1
    assert view.last_event_time == NOW - timedelta(seconds=10)
    assert view.freshness_seconds == 10.0


def test_empty_capability_has_no_strain_or_freshness() -> None:
    view = capability([], NOW)
    assert view.units == 0 and view.strain is None and view.freshness_seconds is None


def incident(
    department: str,
    incident_id: str,
    *,
    urgency: str | None = "A",
    incident_type: str = "building_fire",
    ended: str | None = None,
    age: float = 60,
    mode: str = "actual",
) -> IncidentState:
    when = NOW - timedelta(seconds=age)
    state = IncidentState(mode, department, incident_id)
    if urgency is not None:  # None: only a unit's event seen so far
        state.opened = (when, "o", "/s")
        state.attributes = {
            "urgency": (when, "o", "/s", urgency),
            "incident_type": (when, "o", "/s", incident_type),
        }
    if ended:
        state.ended = (when, "c", "/s", ended)
    state.last_event_at = when
    return state


def station(department: str, station_id: str, crew: tuple[int, int, int, int], age: float = 120):
    return StationReadiness(
        "actual", department, station_id, *crew, NOW - timedelta(seconds=age), "r", (("r", "/s"),)
    )


INCIDENTS = [
    incident("pirkanmaa", "PI-1"),
    incident("pirkanmaa", "PI-2", urgency="B", incident_type="automatic_fire_alarm"),
    incident("pirkanmaa", "PI-3", ended="closed"),
    incident("pirkanmaa", "PI-4", urgency=None),
    incident("lappi", "LA-1", urgency="C", incident_type="assistance", age=30),
]
STATIONS = [
    station("pirkanmaa", "PI-4", (8, 2, 4, 0)),
    station("pirkanmaa", "PI-31", (0, 0, 0, 14)),
    station("lappi", "LA-1", (3, 1, 2, 6), age=2000),
]
CODES = ["pirkanmaa", "lappi", "kainuu"]


def picture(units=UNITS, incidents=INCIDENTS, stations=STATIONS, codes=CODES) -> dict:
    return snapshot_of(units, incidents, stations, codes, 7, NOW, 900)


def test_snapshot_lists_every_department_and_national_totals() -> None:
    document = picture()
    assert document["sequence"] == 7
    assert list(document["departments"]) == ["kainuu", "lappi", "pirkanmaa"]
    assert document["departments"]["kainuu"]["units"] == 0
    national = document["national"]
    assert national["units"] == 6
    assert (national["available"], national["committed"], national["out_of_service"]) == (2, 3, 1)
    assert national["strain"] == 0.6
    assert national["freshness_seconds"] == 5.0
    assert sum(d["units"] for d in document["departments"].values()) == national["units"]


def test_open_incidents_by_urgency_and_type_with_their_committed_units() -> None:
    units = [
        *UNITS,
        replace(unit("pirkanmaa", "RPI7", "rescue_unit", "en_route", 4, 3), incident_id="PI-1"),
        replace(unit("pirkanmaa", "RPI8", "ems_unit", "available", 2, 3), incident_id="PI-1"),
    ]
    document = picture(units=units)
    view = document["departments"]["pirkanmaa"]["incidents"]
    assert view["open"] == 3  # PI-3 is closed
    assert view["by_urgency"] == {"A": 1, "B": 1, "C": 0, "D": 0, "unknown": 1}
    assert view["by_type"] == {"automatic_fire_alarm": 1, "building_fire": 1, "unknown": 1}
    listed = {entry["incident_id"]: entry for entry in view["open_incidents"]}
    assert set(listed) == {"PI-1", "PI-2", "PI-4"}
    assert listed["PI-1"]["units_committed"] == ["RPI7"]  # RPI8 is available again
    assert (listed["PI-4"]["status"], listed["PI-4"]["urgency"]) == ("unopened", None)
    assert listed["PI-1"]["opened_at"] == (NOW - timedelta(seconds=60)).isoformat()
    national = document["national"]["incidents"]
    assert national["open"] == 4
    assert national["by_urgency"]["C"] == 1 and "open_incidents" not in national


def test_readiness_is_summed_per_department_and_nationally() -> None:
    document = picture()
    assert document["departments"]["pirkanmaa"]["readiness"] == {
        "stations": 2,
        "firefighters": 8,
        "officers": 2,
        "ems": 4,
        "volunteers_available": 14,
    }
    assert document["national"]["readiness"]["volunteers_available"] == 20


def test_freshness_per_family_and_stale_departments() -> None:
    document = picture(units=UNITS[:4], incidents=INCIDENTS[:4], stations=STATIONS)
    pirkanmaa, lappi = document["departments"]["pirkanmaa"], document["departments"]["lappi"]
    assert pirkanmaa["freshness"] == {
        "unit-status": {
            "last_event_time": (NOW - timedelta(seconds=10)).isoformat(),
            "freshness_seconds": 10.0,
        },
        "incident": {
            "last_event_time": (NOW - timedelta(seconds=60)).isoformat(),
            "freshness_seconds": 60.0,
        },
        "readiness": {
            "last_event_time": (NOW - timedelta(seconds=120)).isoformat(),
            "freshness_seconds": 120.0,
        },
    }
    assert pirkanmaa["stale"] is False
    assert lappi["stale"] is True  # only a readiness report, 2,000 s ago
    assert document["departments"]["kainuu"]["stale"] is True  # never heard from
    national = document["national"]
    assert national["stale_departments"] == ["kainuu", "lappi"]
    assert national["units_from_stale_departments"] == 0
    assert national["freshness"]["readiness"]["freshness_seconds"] == 120.0
    with_units = picture(incidents=[], stations=[])  # lappi's units are 5 and 100 s old
    assert with_units["national"]["stale_departments"] == ["kainuu"]
    quiet = snapshot_of(UNITS, [], [], CODES, 1, NOW + timedelta(seconds=1000), 900)
    assert quiet["national"]["units_from_stale_departments"] == 6


def test_exercise_and_test_have_pictures_of_their_own() -> None:
    drills = [
        unit("lappi", "RLA9", "rescue_unit", "available", 4, 1, mode="exercise"),
        unit("lappi", "RLA8", "rescue_unit", "on_scene", 4, 1, mode="test"),
    ]
    drill_incident = incident("lappi", "LA-9", mode="exercise")
    real = picture()
    mixed = picture(units=UNITS + drills, incidents=[*INCIDENTS, drill_incident])
    assert {k: mixed[k] for k in ("national", "departments")} == {
        k: real[k] for k in ("national", "departments")
    }
    assert list(mixed["exercise"]["departments"]) == ["lappi"]
    assert mixed["exercise"]["national"]["units"] == 1
    assert mixed["exercise"]["national"]["incidents"]["open"] == 1
    assert mixed["test"]["departments"]["lappi"]["committed"] == 1
    assert real["exercise"]["departments"] == {} and real["exercise"]["national"]["units"] == 0


def test_snapshot_leaves_out_departments_not_listed() -> None:
    document = picture(codes=["lappi"])
    assert document["national"]["units"] == 2
    assert document["national"]["incidents"]["open"] == 1


def test_snapshot_matches_its_published_schema() -> None:
    schema = json.loads((SCHEMAS / "capability" / "v2.json").read_text())
    units = [*UNITS, unit("lappi", "RLA9", "rescue_unit", "available", 4, 1, mode="exercise")]
    document = picture(units=units)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(document)
