"""How fresh a family's states are: the newest event time and its age, as the snapshot shows them."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


def newest(times: Iterable[datetime | None]) -> datetime | None:
    # Compared as times: departments may report in different UTC offsets.
    return max((t for t in times if t is not None), default=None)


def least(values: Iterable[float | None]) -> float | None:
    return min((v for v in values if v is not None), default=None)


@dataclass(slots=True)
class Freshness:
    last_event_time: datetime | None
    freshness_seconds: float | None

    @classmethod
    def newest(cls, each: Iterable["Freshness"]) -> "Freshness":
        """The freshest of several: the newest event time and the least age."""
        each = list(each)
        return cls(
            newest(f.last_event_time for f in each), least(f.freshness_seconds for f in each)
        )


def freshness(last: datetime | None, now: datetime) -> Freshness:
    return Freshness(last, round((now - last).total_seconds(), 3) if last else None)
