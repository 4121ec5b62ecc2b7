from datetime import UTC, datetime, timedelta

from pelastus_hub.contract.readiness import ReadinessV1
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.state.store import Outcome
from tests.unit.helpers import decode, encode, new_store

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def readiness(event_id: str, seconds: float, firefighters: int) -> ValidEvent:
    when = T0 + timedelta(seconds=seconds)
    data = ReadinessV1.model_validate(
        {
            "department": "pirkanmaa",
            "station_id": "PI-4",
            "on_duty": {"firefighters": firefighters, "officers": 1, "ems": 2},
            "volunteers_available": 5,
            "observed_at": when.isoformat(),
        }
    )
    return ValidEvent("/s", event_id, data, "PI-4", when)


def test_newest_readiness_wins_and_round_trips() -> None:
    store = new_store("readiness")
    assert store.apply("pirkanmaa", readiness("b", 60, 6)) is Outcome.ACCEPTED
    assert store.apply("pirkanmaa", readiness("a", 0, 8)) is Outcome.STALE
    assert store.apply("pirkanmaa", readiness("b", 60, 6)) is Outcome.DUPLICATE
    (state,) = store.take_changes()
    assert (state.key, state.firefighters, state.volunteers_available) == ("pirkanmaa/PI-4", 6, 5)
    restored = new_store("readiness")
    restored.restore(decode("readiness", encode("readiness", state)))
    assert restored.states == store.states
