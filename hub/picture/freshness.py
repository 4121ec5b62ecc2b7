"""How fresh data is: newest event times and their ages, as the snapshot shows them."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any


def newest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def age(last: datetime | None, now: datetime) -> dict[str, Any]:
    return {
        "last_event_time": last.isoformat() if last else None,
        "freshness_seconds": round((now - last).total_seconds(), 3) if last else None,
    }


def latest_text(times: Iterable[str | None]) -> str | None:
    # Compared as times, not as text: departments may report in different UTC offsets.
    parsed = [datetime.fromisoformat(t) for t in times if t is not None]
    return max(parsed).isoformat() if parsed else None


def least(values: Iterable[float | None]) -> float | None:
    return min((v for v in values if v is not None), default=None)
