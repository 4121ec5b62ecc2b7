"""What the KPI API answers for a window whose time is over, and for a request without a
department: the decision at a fixed now, and the route over it."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from pelastus_hub.picture.kpi import KpiBook, NoResult, no_result
from pelastus_hub.picture.kpi_windows import has_passed
from pelastus_hub.runtime.web import _add_kpi_route
from tests.unit.test_kpi import HELSINKI, T0, TARGETS, incident

GRACE = 1800
KEPT = timedelta(days=400)
NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # fixed: nothing here reads the clock
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def hour(start: datetime):
    return HELSINKI.named("hour", start)


def test_a_window_has_passed_once_its_end_plus_grace_is_now() -> None:
    window = hour(T0)  # 07:00-08:00 UTC
    grace = timedelta(seconds=GRACE)
    assert not has_passed(window, grace, datetime(2026, 11, 28, 8, 29, 59, tzinfo=UTC))
    assert has_passed(window, grace, datetime(2026, 11, 28, 8, 30, tzinfo=UTC))
    assert has_passed(window, grace, NOW)


@pytest.mark.parametrize(
    ("start", "incidents", "closed_empty", "reason"),
    [
        (NOW - timedelta(hours=1), 0, False, None),  # its grace is not over: open, zeros
        (NOW - timedelta(hours=1), 2, False, None),  # open, figures so far
        (T0, 2, False, None),  # over, but waiting for the department's stream time
        (T0, 0, False, "none"),  # over, and no incident in it
        (T0, 0, True, "none"),  # closed empty by the hub
        (T0, 1, True, "late"),  # closed empty, an alarm recorded since came late
        (LONG_AGO, 0, False, "expired"),  # before what national.kpi keeps
        (LONG_AGO, 0, True, "expired"),
        # Kept: from the window's end plus grace. 13:00-14:00 400 days ago is within it,
        # 12:00-13:00 is not.
        (NOW - KEPT - timedelta(hours=1), 0, False, "none"),
        (NOW - KEPT - timedelta(hours=2), 0, False, "expired"),
    ],
)
def test_a_window_over_without_a_final_result_has_none_to_give(
    start: datetime, incidents: int, closed_empty: bool, reason: str | None
) -> None:
    window = hour(start)
    found = no_result(
        "pirkanmaa", window, incidents, closed_empty, timedelta(seconds=GRACE), KEPT, NOW
    )
    assert (found.reason if found else None) == reason
    if found:
        assert found.window == window and found.department == "pirkanmaa"


def test_the_messages_say_why() -> None:
    window = hour(LONG_AGO)
    expired = NoResult("pirkanmaa", window, "expired", KEPT).message
    assert "2020-01-01T00:00:00+00:00" in expired
    assert "before what the hub keeps" in expired and "400 days" in expired
    none = NoResult("pirkanmaa", hour(T0), "none", KEPT).message
    assert "no incident of pirkanmaa was recorded in that window" in none
    assert "too late to count" in NoResult("pirkanmaa", hour(T0), "late", KEPT).message


def test_the_book_answers_a_past_window_final_or_not_at_all() -> None:
    book = KpiBook(HELSINKI, GRACE, TARGETS)
    seen = [incident("i1", alarm=T0)]  # the 07:00 hour of 2026-11-28, a week before NOW
    # Six years ago: no final result, no incident, and before what the hub keeps.
    past = book.query(seen, "pirkanmaa", "hour", LONG_AGO, NOW, KEPT)
    assert isinstance(past, NoResult) and past.reason == "expired"
    # The hour before the incident's: over, and no incident recorded in it.
    empty = book.query(seen, "pirkanmaa", "hour", T0 - timedelta(hours=1), NOW, KEPT)
    assert isinstance(empty, NoResult) and empty.reason == "none"
    # The incident's own hour: over by the clock, but the department has sent nothing
    # since, so its stream time has not closed it: the figures so far, not final.
    waiting = book.query(seen, "pirkanmaa", "hour", T0, NOW, KEPT)
    assert not isinstance(waiting, NoResult) and waiting is not None
    assert waiting.final is False and waiting.urgent_incidents == 1
    # The current hour, not over: an open window, zeros.
    current = book.query(seen, "pirkanmaa", "hour", NOW, NOW, KEPT)
    assert not isinstance(current, NoResult) and current is not None
    assert current.final is False and current.urgent_incidents == 0
    # Without a start: the latest window with an incident in it.
    latest = book.query(seen, "pirkanmaa", "hour", None, NOW, KEPT)
    assert latest is not None and not isinstance(latest, NoResult)
    assert latest.window == hour(T0)
    assert book.query(seen, "lappi", "hour", None, NOW, KEPT) is None


def test_a_final_result_is_the_answer_however_old() -> None:
    book = KpiBook(HELSINKI, GRACE, TARGETS)
    for alarm in (T0, LONG_AGO + timedelta(minutes=5)):
        later = incident("later", alarm=alarm + timedelta(days=1), last=alarm + timedelta(days=1))
        book.due([incident("i1", alarm=alarm), later], ["pirkanmaa"], alarm)
        found = book.query([], "pirkanmaa", "hour", alarm, NOW, KEPT)
        assert not isinstance(found, NoResult) and found is not None
        assert found.final is True and found.urgent_incidents == 1


def test_a_window_closed_empty_has_no_result_though_a_late_alarm_came() -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    later = incident("i3", alarm=T0 + timedelta(hours=3), last=T0 + timedelta(hours=3))
    book.due([later], ["pirkanmaa"], T0)  # the 07:00 hour closes with nothing in it
    book.published()
    very_late = incident("i1", alarm=T0)
    # Even before its end plus grace by the clock: the hub has closed it.
    found = book.query([later, very_late], "pirkanmaa", "hour", T0, T0, KEPT)
    assert isinstance(found, NoResult) and found.reason == "late"


class FakeView:
    def json(self, value: Any, status: int = 200, headers: Any = None) -> Any:
        return SimpleNamespace(body=value, status=status)

    def bytes(self, value: bytes, content_type: str) -> Any:
        return SimpleNamespace(body=value, status=200)


def kpi_route(book: KpiBook, incidents: list) -> Any:
    """The KPI route over a book, answering at NOW."""
    routes: dict[str, Any] = {}

    def page(path: str) -> Any:
        def register(handler: Any) -> Any:
            routes[path] = handler
            return handler

        return register

    def kpi(department: str, kind: str, start: datetime | None) -> Any:
        return book.query(incidents, department, kind, start, NOW, KEPT)

    worker = SimpleNamespace(snapshots=SimpleNamespace(kpi=kpi))
    registry = SimpleNamespace(codes=frozenset({"pirkanmaa", "lappi"}))
    _add_kpi_route(page, worker, registry)  # type: ignore[arg-type]
    return routes["/api/v1/kpi"]


async def test_the_route_refuses_a_missing_department_and_a_past_window_without_result() -> None:
    route = kpi_route(KpiBook(HELSINKI, GRACE, TARGETS), [incident("i1", alarm=T0)])

    async def get(**query: str) -> tuple[int, Any]:
        response = await route(FakeView(), SimpleNamespace(query=query))
        return response.status, response.body

    for query in ({}, {"window": "day"}, {"department": ""}):
        status, body = await get(**query)
        assert (status, body["error"]) == (400, "missing_parameter"), query
        assert body["message"] == "give department=<code>, one of lappi, pirkanmaa"
    status, body = await get(department="narnia")
    assert (status, body["error"]) == (404, "unknown_department")
    status, body = await get(department="pirkanmaa", start=LONG_AGO.isoformat())
    assert (status, body["error"]) == (404, "no_kpi_for_window")
    assert "before what the hub keeps" in body["message"]
    status, body = await get(department="pirkanmaa", start=(T0 - timedelta(hours=1)).isoformat())
    assert (status, body["error"]) == (404, "no_kpi_for_window")
    assert "no incident of pirkanmaa was recorded" in body["message"]
    status, body = await get(department="pirkanmaa", start=T0.isoformat())
    assert status == 200 and b'"final":false' in body
