"""Incidents fold their events the same whatever the order, redelivery or restore."""

import itertools
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pelastus_hub.contract.incident import IncidentV1
from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.families.incident import IncidentState
from pelastus_hub.state.store import Outcome
from tests.unit.helpers import decode, encode, new_store

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def incident_event(
    event_id: str, kind: str, seconds: float, source: str = "/s", **fields: Any
) -> ValidEvent:
    when = T0 + timedelta(seconds=seconds)
    data: dict[str, Any] = {
        "department": "pirkanmaa",
        "incident_id": "PI-1",
        "event": kind,
        "occurred_at": when.isoformat(),
        **fields,
    }
    if kind == "opened":
        data = {
            "incident_type": "building_fire",
            "urgency": "B",
            "municipality_code": "837",
            **data,
        }
    model = IncidentV1.model_validate(data)
    return ValidEvent(source, event_id, model, "PI-1", when)


LIFE = [
    incident_event("o", "opened", 0, risk_class="II"),
    incident_event("d1", "unit_dispatched", 30, unit_id="RPI487"),
    incident_event("d2", "unit_dispatched", 35, unit_id="RPI488"),
    incident_event("s1", "unit_on_scene", 400, unit_id="RPI487"),
    incident_event("u", "unit_on_scene", 500, unit_id="RPI488", urgency="A"),  # revised
    incident_event("c", "closed", 3600),
]


def summary(state: IncidentState) -> tuple:
    """Everything the incident says, but its dedup memory (which keeps arrival order)."""
    return (state.opened, state.attributes, state.units, state.ended, state.last_event_at)


def test_a_whole_life() -> None:
    store = new_store("incident")
    assert [store.apply("pirkanmaa", e) for e in LIFE] == [Outcome.ACCEPTED] * len(LIFE)
    state = store.states["pirkanmaa/PI-1"]
    assert state.status == "closed"
    assert state.opened == (T0, "o", "/s")
    assert state.attribute("urgency") == "A"  # the newest event carrying it
    assert state.attribute("incident_type") == "building_fire"
    assert state.units["RPI487"] == [T0 + timedelta(seconds=30), T0 + timedelta(seconds=400)]


def test_every_order_gives_the_same_incident() -> None:
    expected = None
    orders = list(itertools.permutations(LIFE))
    for order in random.Random(7).sample(orders, 120):
        store = new_store("incident")
        for e in order:
            store.apply("pirkanmaa", e)
        got = summary(store.states["pirkanmaa/PI-1"])
        expected = expected or got
        assert got == expected


def test_redelivery_is_a_duplicate_and_changes_nothing() -> None:
    store = new_store("incident")
    for e in LIFE:
        store.apply("pirkanmaa", e)
    before = summary(store.states["pirkanmaa/PI-1"])
    store.take_changes()
    assert store.apply("pirkanmaa", LIFE[3]) is Outcome.DUPLICATE
    assert store.take_changes() == []
    assert summary(store.states["pirkanmaa/PI-1"]) == before


def test_earliest_arrival_and_newest_end_win() -> None:
    store = new_store("incident")
    store.apply("pirkanmaa", incident_event("s2", "unit_on_scene", 600, unit_id="RPI487"))
    store.apply("pirkanmaa", incident_event("s1", "unit_on_scene", 400, unit_id="RPI487"))
    store.apply("pirkanmaa", incident_event("x", "cancelled", 700))
    store.apply("pirkanmaa", incident_event("c", "closed", 800))
    state = store.states["pirkanmaa/PI-1"]
    assert state.units["RPI487"] == [None, T0 + timedelta(seconds=400)]
    assert state.status == "closed"


def test_event_before_opened_is_kept_with_a_warning() -> None:
    store = new_store("incident")
    early = incident_event("s1", "unit_on_scene", 400, unit_id="RPI487")
    assert store.warning("pirkanmaa", early) is WarningCode.INCIDENT_NOT_OPENED
    assert store.apply("pirkanmaa", early) is Outcome.ACCEPTED
    assert store.states["pirkanmaa/PI-1"].status == "unopened"
    assert store.warning("pirkanmaa", LIFE[0]) is None  # opened itself never warns
    store.apply("pirkanmaa", LIFE[0])
    assert store.states["pirkanmaa/PI-1"].status == "open"
    assert store.warning("pirkanmaa", LIFE[5]) is None


def test_exercise_incident_is_apart_from_real_ones() -> None:
    store = new_store("incident")
    store.apply("pirkanmaa", LIFE[0])
    drill = incident_event("dx", "unit_dispatched", 30, unit_id="RPI487")
    drill = ValidEvent(
        drill.source, drill.id, drill.data, drill.entity_id, drill.event_time, "exercise"
    )
    assert store.warning("pirkanmaa", drill) is WarningCode.INCIDENT_NOT_OPENED
    store.apply("pirkanmaa", drill)
    assert set(store.states) == {"pirkanmaa/PI-1", "exercise:pirkanmaa/PI-1"}
    assert store.states["pirkanmaa/PI-1"].units == {}


def test_events_alike_but_for_their_source_give_one_result_in_either_order() -> None:
    """(source, id) identifies an event: two sources may use the same id at the same time."""
    first = incident_event("same", "unit_on_scene", 400, "/a", unit_id="RPI487", urgency="A")
    second = incident_event("same", "unit_on_scene", 400, "/b", unit_id="RPI487", urgency="C")
    results = []
    for order in ((first, second), (second, first)):
        store = new_store("incident")
        assert [store.apply("pirkanmaa", e) for e in order] == [Outcome.ACCEPTED] * 2
        results.append(summary(store.states["pirkanmaa/PI-1"]))
    assert results[0] == results[1]
    assert results[0][1]["urgency"][3] == "C"  # the greater source wins the tie


def test_changelog_round_trip_and_merge_in_any_order() -> None:
    first, second = new_store("incident"), new_store("incident")
    for e in LIFE[:3]:
        first.apply("pirkanmaa", e)
    for e in LIFE[3:]:
        second.apply("pirkanmaa", e)
    whole = new_store("incident")
    for e in LIFE:
        whole.apply("pirkanmaa", e)
    records = [encode("incident", s) for s in (*first.take_changes(), *second.take_changes())]
    for order in (records, records[::-1]):
        restored = new_store("incident")
        for raw in order:
            restored.restore(decode("incident", raw))
        assert summary(restored.states["pirkanmaa/PI-1"]) == summary(whole.states["pirkanmaa/PI-1"])
    once = decode("incident", encode("incident", whole.states["pirkanmaa/PI-1"]))
    assert once == whole.states["pirkanmaa/PI-1"]


def test_merging_overlapping_or_repeated_states_changes_nothing_more() -> None:
    whole, early, late = new_store("incident"), new_store("incident"), new_store("incident")
    for e in LIFE:
        whole.apply("pirkanmaa", e)
    for e in LIFE[:4]:
        early.apply("pirkanmaa", e)
    for e in LIFE[2:]:
        late.apply("pirkanmaa", e)
    expected = summary(whole.states["pirkanmaa/PI-1"])
    merged = new_store("incident")
    for raw in [encode("incident", s) for s in (*early.take_changes(), *late.take_changes())] * 2:
        merged.restore(decode("incident", raw))
    assert summary(merged.states["pirkanmaa/PI-1"]) == expected
    again = decode("incident", encode("incident", merged.states["pirkanmaa/PI-1"]))
    again.merge(merged.states["pirkanmaa/PI-1"])
    assert summary(again) == expected


def test_events_of_incidents_in_closed_kpi_windows_are_late() -> None:
    cutoff = T0 + timedelta(seconds=100)
    store = new_store("incident", is_late=lambda department, alarm: alarm < cutoff)
    opened = LIFE[0]  # the alarm at T0: its windows have closed
    assert store.warning("pirkanmaa", opened) is WarningCode.LATE_FOR_KPI_WINDOW
    store.apply("pirkanmaa", opened)
    assert store.warning("pirkanmaa", LIFE[3]) is WarningCode.LATE_FOR_KPI_WINDOW
    fresh = incident_event("n", "opened", 200)
    fresh = replace(fresh, entity_id="PI-2")
    assert store.warning("pirkanmaa", fresh) is None
    drill = replace(LIFE[3], mode="exercise")  # exercise incidents have no KPIs
    store.apply("pirkanmaa", replace(opened, mode="exercise"))
    assert store.warning("pirkanmaa", drill) is None
    # Not opened at all: that warning comes first, as its alarm time is unknown.
    assert store.warning("pirkanmaa", replace(LIFE[3], entity_id="PI-9")) is (
        WarningCode.INCIDENT_NOT_OPENED
    )


def test_a_deleted_incident_is_forgotten() -> None:
    store = new_store("incident")
    store.apply("pirkanmaa", LIFE[0])
    store.forget("pirkanmaa/PI-1")
    assert store.states == {}
    store.forget("pirkanmaa/PI-1")  # deleting what is gone is no error


def test_only_events_that_could_change_a_result_are_late() -> None:
    store = new_store("incident", is_late=lambda department, alarm: True)  # every window closed
    for e in LIFE[:4]:  # opened, two dispatches, RPI487 on scene at 400
        store.apply("pirkanmaa", e)
    assert store.warning("pirkanmaa", LIFE[5]) is None  # closed: no KPI changes
    assert (
        store.warning("pirkanmaa", incident_event("d3", "unit_dispatched", 50, unit_id="RPI3"))
        is None
    )
    later = incident_event("s9", "unit_on_scene", 450, unit_id="RPI488")  # not the first
    assert store.warning("pirkanmaa", later) is None
    earlier = incident_event("s0", "unit_on_scene", 350, unit_id="RPI488")  # a new first
    assert store.warning("pirkanmaa", earlier) is WarningCode.LATE_FOR_KPI_WINDOW
    revised = incident_event("u2", "closed", 900, urgency="A")  # urgency B -> A
    assert store.warning("pirkanmaa", revised) is WarningCode.LATE_FOR_KPI_WINDOW
