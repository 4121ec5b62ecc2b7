from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.contract.unit_status import UnitStatusV1
from pelastus_hub.state.store import DEDUP_WINDOW, Outcome
from tests.unit.helpers import decode, encode, event, new_store

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def valid(
    event_id: str, seconds: float, status: str = "available_at_station", unit: str = "RPI487"
) -> ValidEvent:
    when = T0 + timedelta(seconds=seconds)
    data = UnitStatusV1.model_validate(
        event(unit_id=unit, status=status, observed_at=when.isoformat())["data"]
    )
    return ValidEvent("/s", event_id, data, unit, when)


def test_newer_event_replaces_state() -> None:
    store = new_store("unit-status")
    assert store.apply("pirkanmaa", valid("a", 0)) is Outcome.ACCEPTED
    assert store.apply("pirkanmaa", valid("b", 10, "dispatched")) is Outcome.ACCEPTED
    assert store.states["pirkanmaa/RPI487"].status == "dispatched"


def test_older_event_is_stale_and_changes_nothing() -> None:
    store = new_store("unit-status")
    store.apply("pirkanmaa", valid("b", 10, "dispatched"))
    store.take_changes()
    assert store.apply("pirkanmaa", valid("a", 0)) is Outcome.STALE
    assert store.states["pirkanmaa/RPI487"].status == "dispatched"
    assert store.take_changes() == []


def test_duplicate_of_latest_or_earlier_event_is_a_duplicate() -> None:
    store = new_store("unit-status")
    store.apply("pirkanmaa", valid("a", 0))
    store.apply("pirkanmaa", valid("b", 10, "dispatched"))
    assert store.apply("pirkanmaa", valid("b", 10, "dispatched")) is Outcome.DUPLICATE
    assert store.apply("pirkanmaa", valid("a", 0)) is Outcome.DUPLICATE


def test_equal_event_times_are_ordered_by_event_id_whatever_the_arrival_order() -> None:
    first, second = new_store("unit-status"), new_store("unit-status")
    first.apply("pirkanmaa", valid("x", 5, "en_route"))
    first.apply("pirkanmaa", valid("y", 5, "on_scene"))
    second.apply("pirkanmaa", valid("y", 5, "on_scene"))
    assert second.apply("pirkanmaa", valid("x", 5, "en_route")) is Outcome.STALE
    # The same state; only the memory of which events were seen differs.
    visible = [replace(s.states["pirkanmaa/RPI487"], recent_events=()) for s in (first, second)]
    assert visible[0] == visible[1]


def test_dedup_window_is_bounded() -> None:
    store = new_store("unit-status")
    for i in range(DEDUP_WINDOW + 5):
        store.apply("pirkanmaa", valid(f"e{i}", i))
    state = store.states["pirkanmaa/RPI487"]
    assert len(state.recent_events) == DEDUP_WINDOW
    assert state.recent_events[-1] == (f"e{DEDUP_WINDOW + 4}", "/s")
    # Outside the window an old redelivery is still never applied: it is stale.
    assert store.apply("pirkanmaa", valid("e0", 0)) is Outcome.STALE


def test_exercise_events_keep_a_state_of_their_own() -> None:
    store = new_store("unit-status")
    store.apply("pirkanmaa", valid("a", 0))
    drill = replace(valid("b", 10, "on_scene"), mode="exercise")
    assert store.apply("pirkanmaa", drill) is Outcome.ACCEPTED
    assert store.states["pirkanmaa/RPI487"].status == "available_at_station"
    assert store.states["exercise:pirkanmaa/RPI487"].status == "on_scene"
    # The same event again is a duplicate within its own mode only.
    assert store.apply("pirkanmaa", drill) is Outcome.DUPLICATE


def test_changes_are_reported_once() -> None:
    store = new_store("unit-status")
    store.apply("pirkanmaa", valid("a", 0))
    store.apply("pirkanmaa", valid("b", 1))
    store.apply("pirkanmaa", valid("c", 0, unit="RPI488"))
    assert sorted(s.key for s in store.take_changes()) == ["pirkanmaa/RPI487", "pirkanmaa/RPI488"]
    assert store.take_changes() == []


def test_changelog_round_trip() -> None:
    store = new_store("unit-status")
    data = event(position={"lat": 61.5, "lon": 23.75}, incident_id="PI-1", status="on_scene")[
        "data"
    ]
    model = UnitStatusV1.model_validate(data)
    store.apply("pirkanmaa", ValidEvent("/s", "a", model, "RPI487", model.observed_at))
    state = store.states["pirkanmaa/RPI487"]
    assert decode("unit-status", encode("unit-status", state)) == state
    restored = new_store("unit-status")
    restored.restore(decode("unit-status", encode("unit-status", state)))
    assert restored.states == store.states


def test_restore_keeps_the_newer_state() -> None:
    newer, older = new_store("unit-status"), new_store("unit-status")
    newer.apply("pirkanmaa", valid("b", 10, "dispatched"))
    older.apply("pirkanmaa", valid("a", 0))
    store = new_store("unit-status")
    store.restore(decode("unit-status", encode("unit-status", newer.states["pirkanmaa/RPI487"])))
    store.restore(
        decode("unit-status", encode("unit-status", older.states["pirkanmaa/RPI487"]))
    )  # a late write of a former owner
    assert store.states["pirkanmaa/RPI487"].status == "dispatched"


def test_same_time_and_id_from_two_sources_gives_one_result_in_either_order() -> None:
    one, other = valid("x", 5, "en_route"), valid("x", 5, "on_scene")
    other = replace(other, source="/t")
    finals = []
    for first, second in ((one, other), (other, one)):
        store = new_store("unit-status")
        store.apply("pirkanmaa", first)
        store.apply("pirkanmaa", second)
        finals.append(store.states["pirkanmaa/RPI487"].status)
    assert finals == ["on_scene", "on_scene"]  # "/t" > "/s"


def test_a_unit_state_holds_each_field_of_its_event() -> None:
    data = UnitStatusV1.model_validate(
        event(
            unit_type="tank_unit",
            status="en_route",
            station_id="PI-7",
            crew=3,
            capabilities=["water_transport"],
            position={"lat": 61.5, "lon": 23.75},
            incident_id="PI-2026-1",
            observed_at=T0.isoformat(),
        )["data"]
    )
    store = new_store("unit-status")
    store.apply("pirkanmaa", ValidEvent("/s", "e1", data, "RPI487", T0, "exercise"))
    (state,) = store.states.values()
    assert (state.mode, state.department, state.unit_id) == ("exercise", "pirkanmaa", "RPI487")
    assert (state.unit_type, state.status, state.station_id) == ("tank_unit", "en_route", "PI-7")
    assert (state.crew, state.capabilities, state.position) == (
        3,
        ("water_transport",),
        (61.5, 23.75),
    )
    assert (state.incident_id, state.observed_at, state.event_id) == ("PI-2026-1", T0, "e1")
    assert state.recent_events == (("e1", "/s"),)
