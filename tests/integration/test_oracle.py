"""The hub against an independent oracle, with one worker and with two.

A seeded simulation spanning nearly three hours of event time (duplicate,
out-of-order and invalid messages among it) goes through the real broker. Its
ground truth, worked out from what was sent and not by the hub's code, says what
the snapshot and the KPIs must be: every department's units by status, open
incidents and readiness exactly, and for each closed hourly window the urgent
incidents, responses, nearest-rank median and 90th percentile, and the share
within target. Then events arrive for windows already closed: they are
accepted with a warning and change no published result.
"""

import asyncio
import itertools
import json
import math
import sys
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from pelastus_hub.tools.localkafka import LocalKafka
from pelastus_hub.tools.simulator import generate, ground_truth, message_data
from tests.integration.hub_process import WorkerProcess
from tests.integration.test_several_workers import (
    REGISTRY,
    as_published,
    expected_picture,
    snapshot_after_request,
)
from tests.integration.test_worker import produce, read_all

pytestmark = pytest.mark.integration

COUNT = 3000
RATE = 0.3  # messages a second of event time: 3,000 of them span 2 h 47 min
# Longer than any incident here lasts after its hour ends (checked below), so that which
# events count does not hang on when the leader gets round to closing a window.
GRACE = 1800
TARGETS = {"I": 360, "II": 600, "III": 1200}
HELSINKI = ZoneInfo("Europe/Helsinki")
SHARES = dict(invalid_share=0.04, duplicate_share=0.03, out_of_order_share=0.03, binary_share=0.1)


def rank(values: list[float], q: float) -> float | None:
    """Nearest rank, as documented: the value at rank ceil(q * n) of the sorted values."""
    return sorted(values)[math.ceil(q * len(values)) - 1] if values else None


def hour_of(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def windows_of(alarm: datetime) -> list[tuple[str, datetime, datetime]]:
    """(kind, start, end) of the hour and of the Finnish calendar day that hold an alarm,
    as the README defines them."""
    hour = hour_of(alarm.isoformat())
    local = alarm.astimezone(HELSINKI).date()
    following = local + timedelta(days=1)
    day, next_day = (datetime(d.year, d.month, d.day, tzinfo=HELSINKI) for d in (local, following))
    return [
        ("hour", hour, hour + timedelta(hours=1)),
        ("day", day.astimezone(UTC), next_day.astimezone(UTC)),
    ]


def stream_times(messages: list) -> tuple[dict[str, datetime], list[tuple[datetime, datetime]]]:
    """Each department's stream time at the end, and for every incident event sent, its
    department's stream time when it was sent, with the end of its incident's hour plus
    grace (the first of its windows to close): if every event comes before that, no event
    can be late, however the hub's leader times its closing of windows (it closes them at
    or after that point)."""
    alarms = {
        f"{i['department']}/{i['incident_id']}": datetime.fromisoformat(i["opened_at"])
        for i in ground_truth(messages)["incidents"].values()
        if i["opened_at"]
    }
    stream_time: dict[str, datetime] = {}
    sent = []
    for message in messages:
        if message.kind == "valid" and message.family == "incident":
            data = message_data(message)
            when = datetime.fromisoformat(data["occurred_at"])
            department = data["department"]
            stream_time[department] = max(stream_time.get(department, when), when)
            alarm = alarms.get(f"{department}/{data['incident_id']}")
            if alarm is not None:
                closes = hour_of(alarm.isoformat()) + timedelta(hours=1, seconds=GRACE)
                sent.append((stream_time[department], closes))
    return stream_time, sent


def expected_kpis(truth: dict, messages: list) -> dict[str, dict]:
    """Final results of the closed windows by '<department>/<kind>/<start>', from the ground
    truth alone."""
    stream_time, _ = stream_times(messages)
    windows: dict[tuple[str, str, datetime, datetime], list[dict]] = {}
    for incident in truth["incidents"].values():
        if incident["opened_at"] is None:
            continue  # its opened was never sent: it has no alarm time, so no window
        for kind, start, end in windows_of(datetime.fromisoformat(incident["opened_at"])):
            windows.setdefault((incident["department"], kind, start, end), []).append(incident)
    expected = {}
    for (department, kind, start, end), incidents in windows.items():
        if stream_time[department] < end + timedelta(seconds=GRACE):
            continue  # still open
        urgent = [i for i in incidents if i["urgency"] in ("A", "B")]
        times = [i["response_seconds"] for i in urgent if i["response_seconds"] is not None]
        targeted = [
            i for i in urgent if i["response_seconds"] is not None and i["risk_class"] in TARGETS
        ]
        met = sum(i["response_seconds"] <= TARGETS[i["risk_class"]] for i in targeted)
        expected[f"{department}/{kind}/{start.isoformat()}"] = {
            "urgent_incidents": len(urgent),
            "responded": len(times),
            "median_seconds": rank(times, 0.5),
            "p90_seconds": rank(times, 0.9),
            "target_met_share": round(met / len(targeted), 4) if targeted else None,
        }
    return expected


def as_measured(result: dict) -> dict:
    return {
        k: result[k]
        for k in (
            "urgent_incidents",
            "responded",
            "median_seconds",
            "p90_seconds",
            "target_met_share",
        )
    }


@pytest.fixture
def broker():
    with LocalKafka(progress=lambda line: print(line, file=sys.stderr)) as kafka:
        yield kafka.bootstrap_servers


async def wait_consumed(workers: list[WorkerProcess], count: int) -> None:
    for _ in range(900):
        if sum(sum(w.records_total().values()) for w in workers) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("not all records were consumed")


@pytest.mark.parametrize("worker_count", [1, 2])
async def test_snapshot_and_kpis_equal_the_oracle(broker, tmp_path, worker_count):
    # From a whole hour at least three hours ago: the same windows on every run, all in the
    # past, and within one Finnish day, so that no day closes and no incident retires.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    while (
        start.astimezone(HELSINKI).date()
        != (start + timedelta(hours=3)).astimezone(HELSINKI).date()
    ):
        start -= timedelta(hours=1)
    messages = list(itertools.islice(generate(REGISTRY, 21, start, RATE, **SHARES), COUNT))
    truth = ground_truth(messages)
    expected = expected_kpis(truth, messages)
    # Closed department-hours with incidents: enough to mean something; no day closed.
    assert len(expected) >= 20 and all("/hour/" in key for key in expected)
    assert all(when < closes for when, closes in stream_times(messages)[1])  # none late
    workers = [
        WorkerProcess(broker, tmp_path / f"worker-{i}.log", kpi_grace_seconds=str(GRACE))
        for i in range(worker_count)
    ]
    for worker in workers:
        worker.start()
    try:
        await produce(broker, [(m.topic, m.key, m.value, list(m.headers)) for m in messages])
        await wait_consumed(workers, COUNT)
        snapshot = await snapshot_after_request(broker)
        assert as_published(snapshot) == expected_picture(truth)

        finals = {
            r.key.decode(): json.loads(r.value) for r in await read_all(broker, "national.kpi")
        }
        assert {k: as_measured(v) for k, v in finals.items()} == expected
        assert all(result["final"] for result in finals.values())

        # Late: an arrival earlier than any, and a new alarm, both in a closed window.
        await asyncio.sleep(2)  # every worker reads the closures within a snapshot interval
        key = max(expected, key=lambda k: expected[k]["responded"])
        department, _, window_start = key.split("/", 2)
        incident = next(
            i
            for i in truth["incidents"].values()
            if i["department"] == department
            and hour_of(i["opened_at"]).isoformat() == window_start
            and i["response_seconds"]
        )
        alarm = datetime.fromisoformat(incident["opened_at"])
        late = [
            late_event(
                department,
                incident["incident_id"],
                "unit_on_scene",
                alarm + timedelta(seconds=1),
                unit_id="RLATE1",
            ),
            late_event(
                department,
                "LATE-1",
                "opened",
                alarm,
                incident_type="building_fire",
                urgency="A",
                municipality_code=incident["municipality_code"],
                risk_class="I",
            ),
        ]
        await produce(broker, [record for record, _ in late])
        await wait_consumed(workers, COUNT + len(late))
        feedback = [json.loads(r.value) for r in await read_all(broker, f"feedback.{department}")]
        warned = {f["event_id"] for f in feedback if f["reason"] == "late_for_kpi_window"}
        assert warned == {event_id for _, event_id in late}
        after = await snapshot_after_request(broker)
        assert after["sequence"] > snapshot["sequence"]
        again = {
            r.key.decode(): json.loads(r.value) for r in await read_all(broker, "national.kpi")
        }
        assert again == finals  # closed windows are published once and never change
        for worker in workers:
            status, served = worker.get_json(
                f"/api/v1/kpi?department={department}&window=hour&start={quote(window_start)}"
            )
            assert status == 200 and served == finals[key]
    finally:
        for worker in workers:
            if worker.process and worker.process.poll() is None:
                worker.stop()


def late_event(department: str, incident_id: str, kind: str, when: datetime, **fields: str):
    event_id = str(uuid.uuid4())
    data = {
        "department": department,
        "incident_id": incident_id,
        "event": kind,
        "occurred_at": when.isoformat(),
        **fields,
    }
    value = json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": f"/pelastuslaitos/{department}/late-terminal",
            "type": "fi.pelastus.incident.v1",
            "time": datetime.now(UTC).isoformat(),
            "data": data,
        }
    ).encode()
    return (f"dept.{department}.incident", incident_id.encode(), value, []), event_id
