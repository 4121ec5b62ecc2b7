"""Latest state per entity (unit, station), decided by event time, and its changelog encoding.

An event replaces an entity's state only when it is newer: (event time, event id,
source) greater than the current one, so the result does not depend on arrival order.
An entity remembers the identities of its last DEDUP_WINDOW accepted events; a
redelivery of any of them is a duplicate and changes nothing.
"""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import ValidEvent

DEDUP_WINDOW = 32


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DEAD_LETTERED = "dead_lettered"


class State(Protocol):
    @property
    def key(self) -> str: ...

    def to_json(self) -> bytes: ...


class Store(Protocol):
    """A family's states: what the worker applies events to and writes to the changelog."""

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        """What an accepted event deserves a warning for, asked before apply."""

    def apply(self, department: str, event: ValidEvent) -> Outcome: ...

    def take_changes(self) -> list[State]: ...

    def restore(self, raw: bytes) -> None: ...

    def forget(self, key: str) -> None:
        """Drop an entity whose changelog record was deleted (a tombstone)."""

    def __len__(self) -> int: ...


class LatestState(Protocol):
    key: str
    observed_at: datetime
    event_id: str
    recent_events: tuple[tuple[str, str], ...]

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[tuple[str, str], ...]
    ) -> Self: ...

    @classmethod
    def from_json(cls, raw: bytes) -> Self: ...

    def to_json(self) -> bytes: ...


S = TypeVar("S", bound=LatestState)


def stamp(state: LatestState) -> tuple[datetime, str, str]:
    """(event time, event id, source) of the event a state is from: how states are ordered.
    Its identity is the newest of the state's recent events."""
    return (state.observed_at, state.event_id, state.recent_events[-1][1])


def entity_key(department: str, entity_id: str, mode: str = "actual") -> str:
    """'pirkanmaa/RPI487' for real entities; exercise and test ones are prefixed by their mode."""
    return f"{department}/{entity_id}" if mode == "actual" else f"{mode}:{department}/{entity_id}"


class LatestStore(Generic[S]):
    """Each entity's latest state, plus the keys changed since the last take_changes()."""

    state_class: ClassVar[type]

    def __init__(self) -> None:
        self.states: dict[str, S] = {}
        self._changed: set[str] = set()

    def __len__(self) -> int:
        return len(self.states)

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        return None

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = entity_key(department, event.entity_id, event.mode)
        current = self.states.get(key)
        identity = (event.id, event.source)
        recent: tuple[tuple[str, str], ...] = ()
        if current is not None:
            if identity in current.recent_events:
                return Outcome.DUPLICATE
            if (event.event_time, event.id, event.source) <= stamp(current):
                return Outcome.STALE
            recent = current.recent_events[-(DEDUP_WINDOW - 1) :]
        self.states[key] = self.state_class.from_event(department, event, (*recent, identity))
        self._changed.add(key)
        return Outcome.ACCEPTED

    def forget(self, key: str) -> None:
        self.states.pop(key, None)
        self._changed.discard(key)

    def take_changes(self) -> list[S]:
        """States changed since the last call: what the changelog must be told."""
        changed = [self.states[key] for key in self._changed]
        self._changed.clear()
        return changed

    def restore(self, raw: bytes) -> None:
        """Take a changelog record unless the entity's state here is newer.

        The changelog is read in order, but after a partition moves, a late write
        of its previous owner may follow the new owner's: newest still wins.
        """
        state = self.state_class.from_json(raw)
        current = self.states.get(state.key)
        if current is None or stamp(state) > stamp(current):
            self.states[state.key] = state
