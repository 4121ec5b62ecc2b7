import json
from datetime import timedelta

from jsonschema import Draft202012Validator, FormatChecker

from hub.aggregate import capability, snapshot
from hub.state import UnitState
from tests.unit.helpers import NOW, SCHEMAS


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
    assert view["units"] == 4
    assert (view["available"], view["committed"], view["out_of_service"]) == (2, 1, 1)
    assert view["crew_available"] == 6
    assert view["strain"] == round(1 / 3, 4)
    assert view["units_by_type"]["tank_unit"]["out_of_service"] == 1
    assert view["units_by_type"]["rescue_unit"]["on_scene"] == 1
    assert view["units_by_status"]["available_at_station"] == 1
    assert view["last_event_time"] == (NOW - timedelta(seconds=10)).isoformat()
    assert view["freshness_seconds"] == 10.0


def test_empty_capability_has_no_strain_or_freshness() -> None:
    view = capability([], NOW)
    assert view["units"] == 0 and view["strain"] is None and view["freshness_seconds"] is None


def test_snapshot_lists_every_department_and_national_totals() -> None:
    document = snapshot(UNITS, ["pirkanmaa", "lappi", "kainuu"], 7, NOW)
    assert document["sequence"] == 7
    assert list(document["departments"]) == ["kainuu", "lappi", "pirkanmaa"]
    assert document["departments"]["kainuu"]["units"] == 0
    national = document["national"]
    assert national["units"] == 6
    assert (national["available"], national["committed"], national["out_of_service"]) == (2, 3, 1)
    assert national["strain"] == 0.6
    assert national["freshness_seconds"] == 5.0
    assert sum(d["units"] for d in document["departments"].values()) == national["units"]


def test_exercise_and_test_units_never_count_as_capability() -> None:
    drills = [
        unit("lappi", "RLA9", "rescue_unit", "available", 4, 1, mode="exercise"),
        unit("lappi", "RLA8", "rescue_unit", "on_scene", 4, 1, mode="test"),
    ]
    assert snapshot(UNITS + drills, ["lappi"], 1, NOW) == snapshot(UNITS, ["lappi"], 1, NOW)


def test_snapshot_leaves_out_units_of_departments_not_listed() -> None:
    document = snapshot(UNITS, ["lappi"], 1, NOW)
    assert document["national"]["units"] == 2


def test_snapshot_matches_its_published_schema() -> None:
    schema = json.loads((SCHEMAS / "capability" / "v1.json").read_text())
    document = snapshot(UNITS, ["pirkanmaa", "lappi", "kainuu"], 1, NOW)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(document)
