"""A message family as one unit: its part of the contract, how the hub keeps its entities,
how their states travel on the changelog, and its part of the national picture."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pelastus_hub.contract.envelope import Envelope
from pelastus_hub.contract.reasons import WarningCode
from pelastus_hub.state.codec import StateCodec
from pelastus_hub.state.store import State, Store, StoreContext

# One department's states in one mode, by family name.
Holdings = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class PicturePart:
    """A family's part of each department's view in the capability snapshot, and of the
    national view."""

    # Where in a view: None puts its fields at the view's top level (the units, as in v1).
    key: str | None
    # Parts are dataclasses: the snapshot writes them as they are.
    department: Callable[[Holdings, datetime], Any]
    # (each department's part by code, the stale departments) -> the national part
    national: Callable[[Mapping[str, Any], Sequence[str]], Any]


@dataclass(frozen=True)
class Family:
    name: str
    models: Mapping[int, type[BaseModel]]
    event_model: type[Envelope]
    key_field: str
    time_field: str
    new_store: Callable[[StoreContext], Store[Any]]
    codec: StateCodec[Any]
    picture: PicturePart | None = None
    municipality_field: str | None = None
    # The warnings its store gives on accepted events (Store.warning).
    warnings: tuple[WarningCode, ...] = ()
    # pelastus_hub.contract.family.FamilyContract.quick_decode
    quick_decode: Callable[[bytes], Any | None] | None = None

    def last_event_time(self, states: Sequence[State]) -> datetime | None:
        """The newest event time among the states: how fresh the family's data is."""
        return max((t for s in states if (t := s.last_event_time) is not None), default=None)
