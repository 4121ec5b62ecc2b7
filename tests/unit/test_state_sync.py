"""What catching up from the changelogs reads, with the reader's records stood in for."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.picture.kpi import KpiBook
from pelastus_hub.picture.kpi_windows import Windows
from pelastus_hub.pipeline.batch import input_routes, process_batch
from pelastus_hub.runtime.checkpoint import Written
from pelastus_hub.runtime.state_sync import StateSync
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka
from tests.unit.helpers import SCHEMAS, event, record

REGISTRY = Registry.load(SCHEMAS)
CHANGELOG = "hub.state.unit-status"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # fixed: tests never lean on the clock


async def passing(what: str, operation: Any) -> Any:
    return await operation()


def new_sync() -> StateSync:
    return StateSync(FakeKafka(), FAMILIES, KpiBook(Windows("Europe/Helsinki"), 900, {}), passing)


def unit_state(unit_id: str) -> Any:
    """The state a unit's event makes, as another worker would have written it."""
    sync = new_sync()
    validator = Validator.from_settings(REGISTRY, FAMILIES, HubSettings())
    routes = input_routes(REGISTRY, FAMILIES.values())
    accepted = replace(record(event(unit_id=unit_id), key=unit_id.encode()), offset=0)
    process_batch([accepted], routes, validator, sync.stores, NOW)
    (state,) = sync.stores["unit-status"].states.values()
    return state


def changelog_record(offset: int, key: str, state: Any | None) -> SimpleNamespace:
    codec = FAMILIES["unit-status"].codec
    value = None if state is None else codec.encode(state)
    return SimpleNamespace(
        topic=CHANGELOG, offset=offset, key=key.encode(), value=value, headers=codec.headers
    )


async def test_catching_up_passes_by_the_records_this_worker_wrote() -> None:
    sync = new_sync()
    mine = unit_state("RPI487")
    sync.stores["unit-status"].restore(mine)
    on_changelog = [
        changelog_record(0, "pirkanmaa/RPI111", unit_state("RPI111")),  # another worker's
        # This worker's own two, which its store holds already. Were they read, RPI222
        # would appear and RPI487 go: its store never held RPI222.
        changelog_record(1, "pirkanmaa/RPI222", unit_state("RPI222")),
        changelog_record(2, "pirkanmaa/RPI487", None),
        changelog_record(3, "pirkanmaa/RPI333", unit_state("RPI333")),  # another's again
    ]

    async def read(positions: dict[TopicPartition, int], skip: Any = None) -> AsyncIterator[Any]:
        """As the reader does: each partition from its position on, but what skip passes by."""
        tp = TopicPartition(CHANGELOG, 0)
        start = positions.get(tp)
        for changed in on_changelog if start is not None else []:
            if changed.offset >= start and skip(tp, changed.offset) == changed.offset:
                yield changed
                positions[tp] = changed.offset + 1

    sync.read = read  # type: ignore[method-assign]
    sync.wrote([Written(TopicPartition(CHANGELOG, 0), 1, 2)])
    await sync.catch_up()
    assert sorted(sync.stores["unit-status"].states) == [
        "pirkanmaa/RPI111",
        "pirkanmaa/RPI333",
        "pirkanmaa/RPI487",
    ]

    # A batch written to another topic is none of the changelog's: offset 4 there is
    # another worker's, read as such.
    on_changelog.append(changelog_record(4, "pirkanmaa/RPI487", None))
    sync.wrote([Written(TopicPartition("hub.dead-letter", 0), 4, 1)])
    await sync.catch_up()
    assert "pirkanmaa/RPI487" not in sync.stores["unit-status"].states
