from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.unit_status import FAMILY as UNIT_STATUS
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.state.store import Outcome
from tests.unit.helpers import NOW, SCHEMAS, event, new_store, record

REGISTRY = Registry.load(SCHEMAS)
ROUTES = {
    topic: (code, UNIT_STATUS) for topic, code in REGISTRY.input_topics("unit-status").items()
}


def test_every_record_gets_exactly_one_outcome() -> None:
    first = event()
    newer = dict(event(status="dispatched", observed_at="2026-11-28T07:50:00+02:00"), id="e2")
    older = dict(event(status="on_scene", observed_at="2026-11-28T07:40:00+02:00"), id="e0")
    records = [
        record(first),
        record(newer),
        record(first),  # duplicate
        record(older),  # stale
        record(b"nope"),
        record(event(department="lappi")),
        record(
            dict(event(unit_id="RLA1", department="lappi"), id="l1"),
            key=b"RLA1",
            department="lappi",
        ),
    ]
    store = new_store("unit-status")
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    result = process_batch(records, ROUTES, validator, {"unit-status": store}, NOW)
    assert result.consumed == len(records)
    assert result.outcomes == {
        ("pirkanmaa", "unit-status", Outcome.ACCEPTED): 2,
        ("pirkanmaa", "unit-status", Outcome.DUPLICATE): 1,
        ("pirkanmaa", "unit-status", Outcome.STALE): 1,
        ("pirkanmaa", "unit-status", Outcome.DEAD_LETTERED): 2,
        ("lappi", "unit-status", Outcome.ACCEPTED): 1,
    }
    assert [d.rejection.reason for d in result.dead_letters] == [
        Reason.VALUE_NOT_JSON,
        Reason.DEPARTMENT_MISMATCH,
    ]
    assert [d.record.value for d in result.dead_letters] == [b"nope", records[5].value]
    assert store.states["pirkanmaa/RPI487"].status == "dispatched"
    assert set(result.newest) == {"pirkanmaa", "lappi"}
    assert result.newest["pirkanmaa"].isoformat() == "2026-11-28T07:50:00+02:00"


def test_a_batch_processed_in_parts_comes_to_what_it_comes_to_whole() -> None:
    newer = dict(event(status="dispatched", observed_at="2026-11-28T07:50:00+02:00"), id="e2")
    records = [record(event()), record(b"nope"), record(newer), record(event())]
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    whole_store, parts_store = new_store("unit-status"), new_store("unit-status")
    whole = process_batch(records, ROUTES, validator, {"unit-status": whole_store}, NOW)
    parts = process_batch(records[:1], ROUTES, validator, {"unit-status": parts_store}, NOW)
    for part in (records[1:3], records[3:]):
        assert (
            process_batch(part, ROUTES, validator, {"unit-status": parts_store}, NOW, parts)
            is parts
        )
    assert (parts.outcomes, parts.partition_outcomes) == (whole.outcomes, whole.partition_outcomes)
    assert (parts.dead_letters, parts.newest) == (whole.dead_letters, whole.newest)
    assert parts.consumed == len(records)
    assert parts_store.states == whole_store.states


def test_families_share_a_batch_and_warnings_are_no_outcome() -> None:
    from pelastus_hub.contract.reasons import WarningCode
    from tests.unit.helpers import example_event, incident_record, opened

    routes = input_routes(REGISTRY, FAMILIES.values())
    on_scene = example_event("incident", "valid-unit-on-scene")
    records = [
        record(event()),
        incident_record(dict(on_scene, id="i2")),  # before its opened: accepted, warned
        incident_record(dict(on_scene, id="i2")),  # redelivered: a duplicate, not warned again
        incident_record(dict(opened(), id="i1")),
        incident_record(dict(opened(municipality_code="000"), id="i3")),
        record(example_event("readiness", "valid-career-station"), b"PI-4", family="readiness"),
    ]
    stores = {
        "unit-status": new_store("unit-status"),
        "incident": new_store("incident"),
        "readiness": new_store("readiness"),
    }
    validator = Validator(REGISTRY, FAMILIES, 1 << 20, 300)
    result = process_batch(records, routes, validator, stores, NOW)
    assert result.outcomes == {
        ("pirkanmaa", "unit-status", Outcome.ACCEPTED): 1,
        ("pirkanmaa", "incident", Outcome.ACCEPTED): 2,
        ("pirkanmaa", "incident", Outcome.DUPLICATE): 1,
        ("pirkanmaa", "incident", Outcome.DEAD_LETTERED): 1,
        ("pirkanmaa", "readiness", Outcome.ACCEPTED): 1,
    }
    assert [(w.family, w.code, w.event.id) for w in result.warnings] == [
        ("incident", WarningCode.INCIDENT_NOT_OPENED, "i2")
    ]
    assert [d.rejection.reason for d in result.dead_letters] == [Reason.MUNICIPALITY_UNKNOWN]
    assert stores["incident"].states["pirkanmaa/PI-2026-004512"].status == "open"
