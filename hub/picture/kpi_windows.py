"""The KPI windows: an hour (UTC-aligned; Finnish hours are whole-hour offsets) and a
day (a calendar day in the configured time zone, so 23 or 25 hours at the daylight-saving
changes), and which of them an alarm time falls in."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

KINDS = ("hour", "day")


@dataclass(frozen=True)
class Window:
    kind: str  # hour or day
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """'hour/2026-11-28T07:00:00+00:00': the window's name in keys and the API."""
        return self._key

    @functools.cached_property
    def _key(self) -> str:
        # Named once: Windows.of hands out the same windows, and every snapshot asks each
        # incident's for their keys. (Not slotted, to hold it; orjson leaves _-names out.)
        return f"{self.kind}/{self.start.isoformat()}"


CALENDAR_START = datetime.min.replace(tzinfo=UTC)
CALENDAR_END = datetime.max.replace(tzinfo=UTC)
CALENDAR_EDGE = timedelta(days=2)


class Windows:
    """Which windows an alarm time falls in."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        # Every snapshot asks again for the windows of every incident's alarm time.
        self.of = functools.lru_cache(maxsize=1 << 16)(self._of)

    def _of(self, alarm: datetime) -> tuple[Window, ...]:
        """The hour and the day that hold the alarm; none for an alarm within two days of
        the ends of the calendar (years 1 and 9999), whose day cannot be named: such an
        incident is valid, but counts in no KPI."""
        if not CALENDAR_START + CALENDAR_EDGE <= alarm <= CALENDAR_END - CALENDAR_EDGE:
            return ()
        utc = alarm.astimezone(ZoneInfo("UTC"))
        hour = utc.replace(minute=0, second=0, microsecond=0)
        local = alarm.astimezone(self.zone).date()
        day = datetime(local.year, local.month, local.day, tzinfo=self.zone)
        following = local + timedelta(days=1)
        next_day = datetime(following.year, following.month, following.day, tzinfo=self.zone)
        return (
            Window("hour", hour, hour + timedelta(hours=1)),
            Window("day", day.astimezone(ZoneInfo("UTC")), next_day.astimezone(ZoneInfo("UTC"))),
        )

    def named(self, kind: str, start: datetime) -> Window:
        """The window of this kind that holds start (a window key's start names its own)."""
        windows = self.of(start)
        if not windows:
            raise ValueError(f"no {kind} window can be named for {start.isoformat()}")
        hour, day = windows
        return hour if kind == "hour" else day


def has_passed(window: Window, grace: timedelta, now: datetime) -> bool:
    """Whether the window's end plus the grace lies at or before now."""
    return window.end + grace <= now
