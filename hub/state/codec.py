"""Changelog records of a family's states: JSON, marked with the format that wrote them.

The changelogs (hub.state.*) are the store of record, so a record written today must
still restore after its state class changes. Each record carries its format version
in a header; a record without one is format 1, as written before formats were marked.
Reading an older format runs the upgrades from it to the current one on the record's
JSON object, then checks the result against the state class. A field added with a
default needs no upgrade: older records take the default.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

import orjson
from pydantic import TypeAdapter

FORMAT_HEADER = "hub.state.format"

T = TypeVar("T")
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


class StateFormatError(ValueError):
    """A changelog record this hub cannot read."""


@dataclass(frozen=True)
class StateCodec(Generic[T]):
    state_class: type[T]
    version: int = 1
    # n -> the step from format n to n + 1, for every format before the current one.
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [n for n in range(1, self.version) if n not in self.upgrades]
        if missing:
            raise ValueError(f"{self.state_class.__name__}: no upgrade from format {missing}")

    @cached_property
    def _adapter(self) -> TypeAdapter[T]:
        return TypeAdapter(self.state_class)

    @cached_property
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        return ((FORMAT_HEADER, str(self.version).encode()),)

    def encode(self, state: T) -> bytes:
        """The state's record value; its headers are `headers`. Datetimes as RFC 3339."""
        return orjson.dumps(state)

    def decode(self, raw: bytes, headers: Sequence[tuple[str, bytes]] = ()) -> T:
        written = record_format(headers)
        if written > self.version:
            raise StateFormatError(
                f"a {self.state_class.__name__} record in format {written}: this hub reads "
                f"formats up to {self.version}; a newer hub wrote it"
            )
        if written == self.version:
            return self._adapter.validate_json(raw)
        obj = orjson.loads(raw)
        for step in range(written, self.version):
            obj = self.upgrades[step](obj)
        return self._adapter.validate_python(obj)


def record_format(headers: Sequence[tuple[str, bytes]]) -> int:
    for name, value in headers:
        if name == FORMAT_HEADER:
            try:
                return int(value)
            except ValueError:
                raise StateFormatError(f"{FORMAT_HEADER} header {value!r} is no format") from None
    return 1
