"""Response-time KPIs: windows, nearest-rank percentiles, targets, closing and lateness."""

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from pelastus_hub.families.incident import IncidentState
from pelastus_hub.picture.kpi import (
    KpiBook,
    RiskGroup,
    nearest_rank,
    read_result,
    response_seconds,
    result,
)
from pelastus_hub.picture.kpi_windows import Windows
from tests.unit.helpers import SCHEMAS

TARGETS = {"I": 360.0, "II": 600.0, "III": 1200.0}
HELSINKI = Windows("Europe/Helsinki")
T0 = datetime(2026, 11, 28, 7, 10, tzinfo=UTC)


def incident(
    incident_id: str,
    *,
    alarm: datetime = T0,
    response: float | None = 300,
    urgency: str = "A",
    risk: str | None = "I",
    department: str = "pirkanmaa",
    mode: str = "actual",
    last: datetime | None = None,
) -> IncidentState:
    state = IncidentState(mode, department, incident_id)
    state.opened = (alarm, "o", "/s")
    state.attributes = {"urgency": (alarm, "o", "/s", urgency)}
    if risk is not None:
        state.attributes["risk_class"] = (alarm, "o", "/s", risk)
    if response is not None:
        arrival = alarm + timedelta(seconds=response)
        state.units = {"RPI1": [alarm, arrival], "RPI2": [alarm, arrival + timedelta(seconds=60)]}
    state.last_event_at = last or alarm + timedelta(seconds=response or 0)
    return state


def test_nearest_rank_is_always_a_measured_value() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([7.0], 0.9) == 7.0
    assert nearest_rank([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0  # the lower middle of an even count
    assert nearest_rank([float(v) for v in range(1, 11)], 0.9) == 9.0  # rank ceil(0.9 * 10)
    assert nearest_rank([float(v) for v in range(1, 12)], 0.9) == 10.0  # rank ceil(9.9)


def test_response_time_is_the_first_arrival_after_the_alarm() -> None:
    assert response_seconds(incident("a", response=250)) == 250
    assert response_seconds(incident("b", response=None)) is None


def test_hour_and_local_day_windows_also_across_daylight_saving() -> None:
    hour, day = HELSINKI.of(datetime(2026, 11, 28, 23, 30, tzinfo=UTC))  # 01:30 in Helsinki
    assert (hour.start, hour.end) == (
        datetime(2026, 11, 28, 23, tzinfo=UTC),
        datetime(2026, 11, 29, 0, tzinfo=UTC),
    )
    assert (day.start, day.end) == (
        datetime(2026, 11, 28, 22, tzinfo=UTC),
        datetime(2026, 11, 29, 22, tzinfo=UTC),
    )
    _, spring = HELSINKI.of(datetime(2026, 3, 29, 12, tzinfo=UTC))  # clocks go forward
    assert spring.end - spring.start == timedelta(hours=23)
    _, autumn = HELSINKI.of(datetime(2026, 10, 25, 12, tzinfo=UTC))  # and back
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert HELSINKI.named("day", day.start) == day and HELSINKI.named("hour", hour.start) == hour


def test_result_counts_urgent_incidents_and_shares_against_targets() -> None:
    hour, _ = HELSINKI.of(T0)
    incidents = [
        incident("i1", response=300, risk="I"),  # met (<= 360)
        incident("i2", response=400, risk="I"),  # missed
        incident("i3", response=600, risk="II"),  # met, exactly on target
        incident("i4", response=1500, risk="III"),  # missed
        incident("i5", response=None, risk="II"),  # no unit yet: counted, not measured
        incident("i6", response=2000, risk="IV"),  # no target
        incident("i7", response=100, risk=None),  # unknown class
        incident("i8", response=50, urgency="C"),  # not urgent
    ]
    kpis = result("pirkanmaa", hour, incidents, TARGETS, False, T0, 600)
    assert kpis.urgent_incidents == 7
    assert kpis.responded == 6
    assert kpis.median_seconds == 400  # of 100, 300, 400, 600, 1500, 2000
    assert kpis.p90_seconds == 2000
    assert kpis.target_met_share == 0.5  # 2 of the 4 measured in classes I-III
    by_risk = kpis.by_risk_class
    assert by_risk["I"] == RiskGroup(
        incidents=2,
        responded=2,
        median_seconds=300,
        p90_seconds=400,
        target_seconds=360,
        met=1,
        met_share=0.5,
    )
    assert by_risk["II"].incidents == 2 and by_risk["II"].met == 1
    assert (by_risk["IV"].target_seconds, by_risk["IV"].met) == (None, None)
    assert by_risk["unknown"].median_seconds == 100
    # As published: valid per the schema, and read back the same.
    published = orjson.dumps(kpis)
    schema = json.loads((SCHEMAS / "kpi" / "v1.json").read_text())
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(orjson.loads(published))
    assert read_result(published) == kpis


def test_an_empty_window_has_no_figures() -> None:
    hour, _ = HELSINKI.of(T0)
    kpis = result("lappi", hour, [], TARGETS, True, T0, 600)
    assert (kpis.urgent_incidents, kpis.median_seconds, kpis.target_met_share) == (0, None, None)


def test_windows_close_on_stream_time_plus_grace_once_and_late_events_are_known() -> None:
    book = KpiBook(HELSINKI, 600, TARGETS)
    first = incident("i1", alarm=T0)  # the 07:00 UTC hour
    assert book.due([first], ["pirkanmaa"], T0) == []
    # Stream time 08:09:59: the hour ended at 08:00, and 10 min of grace are not over.
    eight = datetime(2026, 11, 28, 8, tzinfo=UTC)
    almost = incident(
        "i2", alarm=T0 + timedelta(minutes=40), last=eight + timedelta(minutes=9, seconds=59)
    )
    assert book.due([first, almost], ["pirkanmaa"], T0) == []
    later = incident("i3", alarm=eight + timedelta(minutes=5), last=eight + timedelta(minutes=10))
    (closed,) = book.due([first, almost, later], ["pirkanmaa"], T0)
    assert closed.final is True
    assert closed.window.start.isoformat() == "2026-11-28T07:00:00+00:00"
    assert closed.urgent_incidents == 2
    assert closed.key == "pirkanmaa/hour/2026-11-28T07:00:00+00:00"
    assert book.due([first, almost, later], ["pirkanmaa"], T0) == []  # published once
    assert book.is_late("pirkanmaa", T0 + timedelta(minutes=5))
    assert not book.is_late("pirkanmaa", T0 + timedelta(hours=1))
    assert not book.is_late("lappi", T0)
    # Another department's stream time closes nothing here.
    other = KpiBook(HELSINKI, 600, TARGETS)
    busy = incident("x", department="lappi", alarm=T0 + timedelta(hours=5))
    assert other.due([first, busy], ["pirkanmaa", "lappi"], T0) == []


@pytest.mark.parametrize("mode", ["exercise", "test"])
def test_exercise_and_test_incidents_stay_out_of_kpis(mode: str) -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    drills = [incident("d1", mode=mode), incident("d2", mode=mode, alarm=T0 + timedelta(hours=3))]
    assert book.group(drills, ["pirkanmaa"]) == {}
    assert book.due(drills, ["pirkanmaa"], T0) == []


def test_a_result_not_published_after_all_reopens_its_window() -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    later = incident("i3", alarm=T0 + timedelta(hours=1), last=T0 + timedelta(hours=1))
    (closed,) = book.due([incident("i1"), later], ["pirkanmaa"], T0)
    book.forget(closed)
    assert not book.is_late("pirkanmaa", T0)
    assert len(book.due([incident("i1"), later], ["pirkanmaa"], T0)) == 1


def test_ended_incidents_retire_once_every_window_of_theirs_is_final() -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    ended = incident("i1")
    ended.ended = (T0 + timedelta(minutes=30), "c", "/s", "closed")
    still_open = incident("i2")
    next_day = incident("i3", alarm=T0 + timedelta(days=1), last=T0 + timedelta(days=1))
    book.due([ended, still_open, next_day], ["pirkanmaa"], T0)  # closes the hour and the day
    assert [i.incident_id for i in book.retired([ended, still_open, next_day])] == ["i1"]
    only_hour = KpiBook(HELSINKI, 0, TARGETS)
    later_hour = incident("i4", alarm=T0 + timedelta(hours=2), last=T0 + timedelta(hours=2))
    only_hour.due([ended, later_hour], ["pirkanmaa"], T0)  # the day is still open
    assert only_hour.retired([ended]) == []


def test_a_never_opened_incident_in_final_windows_retires_too() -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    phantom = IncidentState("actual", "pirkanmaa", "gone")
    phantom.last_event_at = T0
    later = incident("i3", alarm=T0 + timedelta(days=1), last=T0 + timedelta(days=1))
    book.due([incident("i1"), later], ["pirkanmaa"], T0)
    assert book.retired([phantom]) == [phantom]


def test_targets_must_name_every_class() -> None:
    from pydantic import ValidationError

    from pelastus_hub.settings import HubSettings

    with pytest.raises(ValidationError, match="each of I, II and III"):
        HubSettings(kpi_target_seconds={"I": 300})
    with pytest.raises(ValidationError, match="each of I, II and III"):
        HubSettings(kpi_target_seconds={"I": 300, "II": 0, "III": 900})


def test_an_arrival_before_the_alarm_is_no_response() -> None:
    assert response_seconds(incident("x", response=-30)) is None


def test_a_window_that_closed_empty_stays_closed() -> None:
    book = KpiBook(HELSINKI, 0, TARGETS)
    later = incident("i3", alarm=T0 + timedelta(hours=3), last=T0 + timedelta(hours=3))
    assert book.due([later], ["pirkanmaa"], T0) == []  # the 07:00 hour closed, with nothing
    assert not book.is_late("pirkanmaa", T0)  # not until that was published
    book.published()
    assert book.is_late("pirkanmaa", T0)
    very_late = incident("i1", alarm=T0)  # an alarm of 07:10, three hours on
    assert book.due([later, very_late], ["pirkanmaa"], T0) == []  # no result, ever


def test_alarms_at_the_ends_of_the_calendar_have_no_windows() -> None:
    windows = Windows("Europe/Helsinki")
    for alarm in (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC)):
        assert windows.of(alarm) == ()
        with pytest.raises(ValueError, match="no hour window"):
            windows.named("hour", alarm)
    assert len(windows.of(datetime(1, 1, 3, tzinfo=UTC))) == 2
