"""A family's entities by key, and what each event applied to them comes to.

Every store deduplicates the same way: an entity remembers the identities (event id,
source) of its last DEDUP_WINDOW accepted events, and a redelivery of any of them is a
duplicate that changes nothing. How an accepted event changes its entity is the store
kind's: in a LatestStore the newest event wins, in a MergeStore every event folds in.
Either way the result does not depend on the order events arrive in.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, Protocol, Self, TypeVar

from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.contract.records import ValidEvent

DEDUP_WINDOW = 32

# (event time, event id, source): the one order of events. Id before source: ids differ
# in their first characters, sources share long prefixes.
Stamp = tuple[datetime, str, str]
Identity = tuple[str, str]  # (event id, source)


def stamp_of(event: ValidEvent) -> Stamp:
    return (event.event_time, event.id, event.source)


def entity_key(department: str, entity_id: str, mode: str = "actual") -> str:
    """'pirkanmaa/RPI487' for real entities; exercise and test ones are prefixed by their mode."""
    return f"{department}/{entity_id}" if mode == "actual" else f"{mode}:{department}/{entity_id}"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    STALE = "stale"
    DEAD_LETTERED = "dead_lettered"


class State(Protocol):
    """What every family's state has: the picture groups states by department and mode, and
    tells how fresh they are."""

    mode: str
    department: str
    recent_events: tuple[Identity, ...]

    @property
    def key(self) -> str: ...

    @property
    def last_event_time(self) -> datetime | None: ...


@dataclass(frozen=True)
class StoreContext:
    """What a store may ask of the rest of the hub."""

    # Whether a KPI window of this department and alarm time has closed already.
    is_late: Callable[[str, datetime], bool] | None = None


S = TypeVar("S", bound=State)


class Store(Generic[S]):
    """Each entity's state, plus the keys changed since the last take_changes()."""

    def __init__(self) -> None:
        self.states: dict[str, S] = {}
        self._changed: set[str] = set()

    def __len__(self) -> int:
        return len(self.states)

    def warning(self, department: str, event: ValidEvent) -> WarningCode | None:
        """What an accepted event deserves a warning for, asked before apply."""
        return None

    def apply(self, department: str, event: ValidEvent) -> Outcome:
        key = entity_key(department, event.entity_id, event.mode)
        current = self.states.get(key)
        if current is not None and (event.id, event.source) in current.recent_events:
            return Outcome.DUPLICATE
        updated = self._fold(current, department, event)
        if updated is None:
            return Outcome.STALE
        self.states[key] = updated
        self._changed.add(key)
        return Outcome.ACCEPTED

    def _fold(self, current: S | None, department: str, event: ValidEvent) -> S | None:
        """The entity's state with the event in it; None if the event changes nothing."""
        raise NotImplementedError

    def restore(self, state: S) -> None:
        """Take in a state read from the changelog."""
        raise NotImplementedError

    def forget(self, key: str) -> None:
        """Drop an entity whose changelog record was deleted (a tombstone)."""
        self.states.pop(key, None)
        self._changed.discard(key)

    def take_changes(self) -> list[S]:
        """States changed since the last call: what the changelog must be told."""
        changed = [self.states[key] for key in self._changed]
        self._changed.clear()
        return changed


class LatestState(State, Protocol):
    @property
    def stamp(self) -> Stamp:
        """The stamp of the event the state is from."""

    @classmethod
    def from_event(
        cls, department: str, event: ValidEvent, recent: tuple[Identity, ...]
    ) -> Self: ...


L = TypeVar("L", bound=LatestState)


class Observed:
    """What a latest state's order and freshness come from: the event it is from, at
    observed_at. Slots of its own none, so that slotted dataclasses may take it in."""

    __slots__ = ()
    observed_at: datetime
    event_id: str
    recent_events: tuple[Identity, ...]

    @property
    def stamp(self) -> Stamp:
        """Its identity is the newest of the state's recent events."""
        return (self.observed_at, self.event_id, self.recent_events[-1][1])

    @property
    def last_event_time(self) -> datetime:
        return self.observed_at


class LatestStore(Store[L]):
    """The latest state per entity: an event replaces it only when its stamp is greater."""

    def __init__(self, state_class: type[L]) -> None:
        super().__init__()
        self.state_class = state_class

    def _fold(self, current: L | None, department: str, event: ValidEvent) -> L | None:
        recent: tuple[Identity, ...] = ()
        if current is not None:
            # stamp_of(event) <= current.stamp, without building either: the times alone
            # decide nearly every event.
            time, seen = event.event_time, current.observed_at
            if time < seen or (
                time == seen
                and (event.id, event.source) <= (current.event_id, current.recent_events[-1][1])
            ):
                return None
            recent = current.recent_events[-(DEDUP_WINDOW - 1) :]
        return self.state_class.from_event(department, event, (*recent, (event.id, event.source)))

    def restore(self, state: L) -> None:
        """Newest wins here too: the changelog is read in order, but after a partition moves,
        a late write of its previous owner may follow the new owner's."""
        current = self.states.get(state.key)
        if current is None or state.stamp > current.stamp:
            self.states[state.key] = state


class MergingState(State, Protocol):
    @classmethod
    def from_event(cls, department: str, event: ValidEvent) -> Self:
        """What one event alone says of its entity."""

    def merge(self, other: Self) -> None:
        """Take in what another state of the same entity knows. Commutative and idempotent,
        so that neither order nor repetition matters."""


M = TypeVar("M", bound=MergingState)


class MergeStore(Store[M]):
    """Entities as the sum of their events: every new event merges into the state."""

    def __init__(self, state_class: type[M]) -> None:
        super().__init__()
        self.state_class = state_class

    def _fold(self, current: M | None, department: str, event: ValidEvent) -> M | None:
        told = self.state_class.from_event(department, event)
        if current is None:
            return told
        current.merge(told)
        return current

    def restore(self, state: M) -> None:
        current = self.states.get(state.key)
        if current is None:
            self.states[state.key] = state
        else:
            current.merge(state)
