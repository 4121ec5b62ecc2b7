import asyncio
import itertools
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from pydantic import ValidationError

from pelastus_hub.contract.envelope import UnitStatusEvent, binary_mode_event
from pelastus_hub.contract.reasons import Reason, WarningCode
from pelastus_hub.contract.records import Rejection, ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.contract.unit_status import UnitStatusV1
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.pipeline.batch import input_routes
from pelastus_hub.settings import HubSettings
from pelastus_hub.state.store import Outcome
from pelastus_hub.tools.simulator import (
    Message,
    final_states,
    generate,
    invalid,
    message_data,
    sending,
    traffic,
)
from pelastus_hub.tools.simulator.world import area_letters
from tests.unit.fakes import FakeKafka, Sent
from tests.unit.helpers import SCHEMAS, Record, new_store

REGISTRY = Registry.load(SCHEMAS)
START = datetime(2026, 11, 28, 5, 45, tzinfo=UTC)
RATE = 500.0
MIXED = dict(invalid_share=0.1, duplicate_share=0.05, out_of_order_share=0.05, binary_share=0.2)
# Where each status may lead; anything else is a broken simulation.
FLOW = {
    "available_at_station": {"dispatched", "out_of_service", "reserved"},
    "available": {"dispatched", "available_at_station"},
    "dispatched": {"en_route"},
    "en_route": {"on_scene"},
    "on_scene": {"available"},
    "out_of_service": {"available_at_station"},
    "reserved": {"available_at_station"},
}


def take(count: int, seed: int = 1, **shares: float) -> list[Message]:
    return list(itertools.islice(generate(REGISTRY, seed, START, RATE, **shares), count))


def is_binary(message: Message) -> bool:
    return any(name == "ce_specversion" for name, _ in message.headers)


ROUTES = input_routes(REGISTRY, FAMILIES.values())


def department_of(message: Message) -> str:
    return ROUTES[message.topic][0]


def of(family: str, messages: list[Message], kind: str | None = None) -> list[Message]:
    return [m for m in messages if m.family == family and kind in (None, m.kind)]


def observed_at(message: Message) -> datetime:
    return datetime.fromisoformat(message_data(message)["observed_at"])


@pytest.fixture(scope="module")
def mixed() -> list[Message]:
    return take(5000, **MIXED)


def test_same_seed_gives_identical_messages() -> None:
    assert take(2000, seed=7, **MIXED) == take(2000, seed=7, **MIXED)


def test_another_seed_gives_other_messages() -> None:
    first, other = take(2000, seed=7, **MIXED), take(2000, seed=8, **MIXED)
    assert sum(a.value == b.value for a, b in zip(first, other, strict=True)) < 20


def test_every_department_has_units_from_the_start() -> None:
    first = take(len(REGISTRY.departments))
    assert {department_of(m) for m in first} == REGISTRY.codes
    units = {m.entity_key for m in of("unit-status", take(2000)) if m.entity_key}
    assert {key.split("/")[0] for key in units} == REGISTRY.codes
    assert len(units) >= 3 * 2 * len(REGISTRY.departments)


def test_call_signs_and_stations_look_finnish() -> None:
    for message in of("unit-status", take(2000)):
        data = message_data(message)
        area = area_letters(data["department"])
        assert re.fullmatch(rf"[RE]{area}[0-9]{{3,4}}", data["unit_id"])
        assert data["unit_id"].startswith("E") == (data["unit_type"] == "ems_unit")
        assert re.fullmatch(rf"{area}-[0-9]{{1,2}}", data["station_id"])
    assert area_letters("pirkanmaa") == "PI"
    assert area_letters("etela-savo") == "ES"
    assert len({area_letters(code) for code in REGISTRY.codes}) == len(REGISTRY.codes)


def test_fleets_have_unique_call_signs_and_plausible_sizes() -> None:
    for seed in range(5):
        simulation = traffic._Simulation(REGISTRY, seed, RATE, (0.0, 0.0, 0.0, 0.0))
        for department in simulation.departments:
            unit_ids = [unit.unit_id for unit in department.units]
            assert len(set(unit_ids)) == len(unit_ids)
            assert 3 * 2 <= len(unit_ids) <= 12 * 5
        types = Counter(unit.unit_type for unit in simulation.units)
        common = {"rescue_unit", "spearhead_unit", "tank_unit", "ems_unit"}
        assert {unit_type for unit_type, _ in types.most_common(4)} == common


def test_valid_messages_validate_with_the_models(mixed: list[Message]) -> None:
    sendable = [m for m in of("unit-status", mixed) if not m.kind.startswith("invalid:")]
    assert any(is_binary(m) for m in sendable) and not all(is_binary(m) for m in sendable)
    for message in sendable:
        assert message.value is not None
        headers = dict(message.headers)
        if is_binary(message):
            assert headers["content-type"] == b"application/json"
            event = binary_mode_event(headers, orjson.loads(message.value))
            parsed = UnitStatusEvent.model_validate(event)
        else:
            assert headers == {"content-type": b"application/cloudevents+json"}
            parsed = UnitStatusEvent.model_validate_json(message.value)
            assert parsed.datacontenttype == "application/json"
        data = parsed.data
        assert data == UnitStatusV1.model_validate(message_data(message))
        assert parsed.source == f"/pelastuslaitos/{data.department}/simulator"
        assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", parsed.id)
        assert message.topic == input_topic(data.department, "unit-status")
        assert message.key == data.unit_id.encode()
        assert message.entity_key == f"{data.department}/{data.unit_id}"


def test_event_times_follow_the_simulated_clock(mixed: list[Message]) -> None:
    for i, message in enumerate(mixed):
        clock = START + timedelta(seconds=i / RATE)
        if message.kind == "valid" and message.family == "unit-status":
            assert observed_at(message) == clock
        elif message.kind == "valid":  # incident and readiness news: sent once it happened
            data = message_data(message)
            happened = datetime.fromisoformat(data.get("occurred_at") or data["observed_at"])
            assert START <= happened <= clock
        if message.kind in ("valid", "out_of_order"):
            event = orjson.loads(message.value) if not is_binary(message) else {}
            time = datetime.fromisoformat(
                event.get("time") or dict(message.headers)["ce_time"].decode()
            )
            # Incident events held back go out later than they were made.
            assert time == clock or (message.family == "incident" and time < clock)


def test_shares_are_roughly_honoured(mixed: list[Message]) -> None:
    kinds = Counter("invalid" if m.kind.startswith("invalid:") else m.kind for m in mixed)
    assert kinds["invalid"] == pytest.approx(500, abs=100)
    assert kinds["duplicate"] == pytest.approx(250, abs=75)
    assert kinds["out_of_order"] == pytest.approx(250, abs=75)
    valid = [m for m in mixed if m.kind == "valid"]
    assert sum(map(is_binary, valid)) / len(valid) == pytest.approx(0.2, abs=0.03)
    families = Counter(m.family for m in valid)
    assert families["unit-status"] > families["incident"] > families["readiness"] > 100
    reasons = Counter(m.kind for m in mixed if m.kind.startswith("invalid:"))
    assert set(reasons) == {f"invalid:{reason}" for reason in invalid.BAD_KINDS}


def test_no_shares_means_only_valid_messages() -> None:
    assert {m.kind for m in take(3000)} == {"valid"}


def test_duplicates_resend_an_earlier_valid_message_of_any_family(mixed: list[Message]) -> None:
    sent: list[Message] = []
    for message in mixed:
        if message.kind == "duplicate":
            assert replace(message, kind="valid") in sent[-traffic.DEDUP_WINDOW :]
        elif message.kind == "valid":
            sent.append(message)
    families = Counter(m.family for m in mixed if m.kind == "duplicate")
    assert families["unit-status"] and families["incident"] and families["readiness"]


def test_some_incident_events_arrive_after_later_ones(mixed: list[Message]) -> None:
    """Held back, as from a terminal offline for a while: the merge makes it no matter."""
    last: dict[str, datetime] = {}
    overtaken = 0
    for message in of("incident", mixed, "valid"):
        happened = datetime.fromisoformat(message_data(message)["occurred_at"])
        overtaken += happened < last.get(message.entity_key, happened)  # type: ignore[arg-type]
        last[message.entity_key] = max(happened, last.get(message.entity_key, happened))  # type: ignore[index]
    assert overtaken > 10


def test_out_of_order_messages_are_older_than_the_units_latest(mixed: list[Message]) -> None:
    latest: dict[str, datetime] = {}
    seen = 0
    for message in of("unit-status", mixed):
        if message.kind == "valid":
            assert message.entity_key
            assert observed_at(message) > latest.get(message.entity_key, START - timedelta(1))
            latest[message.entity_key] = observed_at(message)
        elif message.kind == "out_of_order":
            assert message.entity_key
            assert observed_at(message) < latest[message.entity_key]
            seen += 1
    assert seen > 100


def test_units_follow_the_status_flow() -> None:
    last: dict[str, dict[str, Any]] = {}
    for message in of("unit-status", take(20_000)):
        data = message_data(message)
        committed = data["status"] in ("dispatched", "en_route", "on_scene")
        assert ("incident_id" in data) == committed
        assert (data["crew"] == 0) == (data["status"] == "out_of_service")
        if committed:
            assert re.fullmatch(r"[A-Z]{2}-2026-[0-9]{6}", data["incident_id"])
        if (before := last.get(message.entity_key)) is not None:  # type: ignore[arg-type]
            assert data["status"] in FLOW[before["status"]]
            if data["status"] in ("en_route", "on_scene"):
                assert data["incident_id"] == before["incident_id"]
        last[message.entity_key] = data  # type: ignore[index]
    statuses = Counter(data["status"] for data in last.values())
    assert set(statuses) == set(FLOW)


def test_final_states_are_the_latest_valid_data(mixed: list[Message]) -> None:
    expected = {m.entity_key: message_data(m) for m in of("unit-status", mixed, "valid")}
    assert final_states(mixed) == expected
    assert final_states(reversed(mixed)) == expected


def test_the_hub_sees_every_message_as_its_kind(mixed: list[Message]) -> None:
    settings = HubSettings()
    validator = Validator.from_settings(REGISTRY, FAMILIES, settings)
    store = new_store("unit-status")
    stores = {
        "unit-status": store,
        "incident": new_store("incident"),
        "readiness": new_store("readiness"),
    }
    outcomes: Counter[str] = Counter()
    warned = 0
    for i, message in enumerate(mixed):
        record = Record(message.topic, message.key, message.value, message.headers, 0, i)
        now = START + timedelta(seconds=i / RATE)
        family = ROUTES[message.topic][1]
        result = validator.validate(record, department_of(message), family, now)
        if message.kind.startswith("invalid:"):
            assert isinstance(result, Rejection), message
            assert f"invalid:{result.reason}" == message.kind, result.message
            continue
        assert isinstance(result, ValidEvent), (message, result)
        # An incident's opened held back lets its units' events come first: a warning.
        warning = stores[family.name].warning(department_of(message), result)
        if warning is not None:
            assert warning is WarningCode.INCIDENT_NOT_OPENED and family.name == "incident"
            warned += 1
        outcome = stores[family.name].apply(department_of(message), result)
        expected = {"valid": Outcome.ACCEPTED, "duplicate": Outcome.DUPLICATE}
        assert outcome == expected.get(message.kind, Outcome.STALE), message
        outcomes[outcome] += 1
    assert set(outcomes) == {Outcome.ACCEPTED, Outcome.DUPLICATE, Outcome.STALE}
    assert 0 < warned < 100
    final = final_states(mixed)
    assert set(store.states) == set(final)
    for key, state in store.states.items():
        data = final[key]
        assert (state.status, state.crew, state.incident_id) == (
            data["status"],
            data["crew"],
            data.get("incident_id"),
        )
        assert state.observed_at == datetime.fromisoformat(data["observed_at"])


def bad(mixed: list[Message], reason: Reason) -> list[Message]:
    found = [m for m in mixed if m.kind == f"invalid:{reason}"]
    assert found
    return found


def test_bad_messages_are_what_they_claim(mixed: list[Message]) -> None:
    for message in bad(mixed, Reason.VALUE_NOT_JSON):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(message.value)  # type: ignore[arg-type]
        message.value.decode()  # type: ignore[union-attr]
    for message in bad(mixed, Reason.VALUE_NOT_UTF8):
        with pytest.raises(UnicodeDecodeError):
            message.value.decode()  # type: ignore[union-attr]
    for message in bad(mixed, Reason.SCHEMA_INVALID):
        data = orjson.loads(message.value)["data"]  # type: ignore[arg-type]
        assert data["crew"] == -1
        with pytest.raises(ValidationError, match="crew"):
            UnitStatusV1.model_validate(data)
    for message in bad(mixed, Reason.DEPARTMENT_MISMATCH):
        event = UnitStatusEvent.model_validate_json(message.value)  # type: ignore[arg-type]
        assert event.data.department in REGISTRY.codes
        assert event.data.department != department_of(message)
    for message in bad(mixed, Reason.DEPARTMENT_UNKNOWN):
        assert orjson.loads(message.value)["data"]["department"] not in REGISTRY.codes  # type: ignore[arg-type]
    for message in bad(mixed, Reason.KEY_MISMATCH):
        event = UnitStatusEvent.model_validate_json(message.value)  # type: ignore[arg-type]
        assert message.key != event.data.unit_id.encode()
    for message in bad(mixed, Reason.VALUE_NULL):
        assert message.value is None and message.key is not None
    for message in bad(mixed, Reason.TYPE_FAMILY_MISMATCH):
        assert message.family == "incident"
        assert orjson.loads(message.value)["type"] == "fi.pelastus.unit-status.v1"  # type: ignore[arg-type]
    for message in bad(mixed, Reason.MUNICIPALITY_UNKNOWN):
        assert orjson.loads(message.value)["data"]["municipality_code"] == "999"  # type: ignore[arg-type]
    assert all(m.entity_key is None for m in mixed if m.kind.startswith("invalid:"))


@pytest.mark.parametrize(
    ("start", "rate", "shares"),
    [
        (START.replace(tzinfo=None), RATE, {}),
        (START, 0.0, {}),
        (START, RATE, {"binary_share": 1.5}),
        (START, RATE, {"invalid_share": 0.6, "duplicate_share": 0.5}),
    ],
)
def test_bad_arguments_are_refused(start: datetime, rate: float, shares: dict) -> None:
    with pytest.raises(ValueError):
        generate(REGISTRY, 1, start, rate, **shares)


@pytest.fixture
def kafka() -> FakeKafka:
    return FakeKafka()


def run(
    kafka: FakeKafka,
    rate: float,
    duration: float | None,
    count: int | None,
    lines: list[str],
    **options: Any,
):
    return sending.run(
        HubSettings(),
        REGISTRY,
        seed=3,
        rate=rate,
        duration=duration,
        count=count,
        progress=lines.append,
        clients=kafka,
        **MIXED,
        **options,
    )


def values(records: list[Sent]) -> list[bytes | None]:
    return [record.value for record in records]


async def test_run_sends_count_messages_at_the_rate(kafka: FakeKafka) -> None:
    lines: list[str] = []
    began = asyncio.get_running_loop().time()
    counts = await run(kafka, 2000, None, 3000, lines)
    elapsed = asyncio.get_running_loop().time() - began
    (producer,) = kafka.producers
    assert counts.total() == len(kafka.written) == 3000
    assert 1.3 < elapsed < 3.0
    assert producer.config["acks"] == "all" and producer.config["enable_idempotence"] is True
    assert kafka.log == ["start", "stop"]
    assert counts["valid"] > 2000 and lines[-1].startswith("done: 3000 messages")
    assert len(lines) >= 2 and " sent, " in lines[0]
    assert not any("could not be sent" in line for line in lines)


async def test_run_stops_after_the_duration(kafka: FakeKafka) -> None:
    lines: list[str] = []
    counts = await run(kafka, 1000, 0.5, None, lines)
    assert counts.total() == 500


async def test_cancelling_run_stops_the_producer(kafka: FakeKafka) -> None:
    lines: list[str] = []
    task = asyncio.create_task(run(kafka, 1000, None, None, lines))

    async def sending() -> None:
        while len(kafka.written) < 50:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(sending(), 30)  # endless traffic, under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert kafka.log == ["start", "stop"]
    assert lines[-1].startswith("stopped: ")
    assert len(kafka.written) >= 50


async def test_producer_options_are_passed_but_acks_and_idempotence_stay(
    kafka: FakeKafka,
) -> None:
    options = {"request_timeout_ms": 2000, "linger_ms": 50, "acks": 1}
    await run(kafka, 1e6, None, 10, [], producer_options=options)
    (producer,) = kafka.producers
    assert producer.config == {
        "request_timeout_ms": 2000,
        "linger_ms": 50,
        "acks": "all",
        "enable_idempotence": True,
    }


async def test_what_the_producer_refuses_is_sent_again_before_anything_newer(
    kafka: FakeKafka,
) -> None:
    kafka.refuse = {10: KafkaTimeoutError(), 11: UnknownTopicOrPartitionError()}
    lines: list[str] = []
    counts = await run(kafka, 1e6, None, 100, lines, retry_backoff=0)
    sends = kafka.sends
    assert counts.total() == 100 and len(sends) == 102
    # The refused message went out again at once, twice, before the next one.
    assert sends[10] == sends[11] == sends[12] != sends[13]
    assert kafka.written == sends[:10] + sends[12:]
    assert "resending 1 in 0 s (retry 1 of 5): KafkaTimeoutError" in lines
    assert "resending 1 in 0 s (retry 2 of 5): [Error 3] UnknownTopicOrPartitionError" in lines
    assert lines[-1].startswith("done: 100 messages")
    assert len(kafka.producers) == 1  # nothing it had numbered failed
    assert "could not be sent" not in lines[-1]


async def test_a_failed_delivery_is_sent_again(kafka: FakeKafka) -> None:
    kafka.fail = {5: NotLeaderForPartitionError()}
    lines: list[str] = []
    await run(kafka, 1e6, None, 100, lines, retry_backoff=0)
    sends = kafka.sends
    # Sent once more, after the failure was known: when that was depends on how the
    # sending went in bursts, so only what was delivered, once each, is certain.
    assert len(sends) == 101 and sends.count(sends[5]) == 2
    assert Counter(values(kafka.written)) == Counter(values(sends[:5] + sends[6:]))
    assert "could not be sent" not in lines[-1]
    # Renewed before the resends, as later batches would fail after the failed one's.
    assert len(kafka.producers) == 2 and kafka.log == ["start", "start", "stop", "stop"]


async def test_messages_failing_for_good_are_counted_and_left_out_of_the_truth(
    kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    kafka.refuse = {send: KafkaTimeoutError() for send in (10, 11, 12)}
    kafka.fail = {50: TopicAuthorizationFailedError(input_topic("pirkanmaa", "incident"))}
    truths: list[list[Message]] = []
    monkeypatch.setattr(sending, "ground_truth", lambda messages: truths.append(messages) or {})
    lines: list[str] = []
    truth = tmp_path / "truth.json"
    counts = await run(kafka, 1e6, None, 100, lines, send_retries=2, retry_backoff=0, truth=truth)
    sends = kafka.sends
    # Retried twice; the authorization error is not retriable.
    assert counts.total() == 100 and len(sends) == 102
    assert "resending 1 in 0 s (retry 2 of 2): KafkaTimeoutError" in lines
    summary, written = lines[-2:]
    assert summary.startswith("done: 100 messages")
    assert summary.endswith(
        "; 2 could not be sent: KafkaTimeoutError (1); [Error 29] "
        "TopicAuthorizationFailedError: dept.pirkanmaa.incident (1)"
    )
    assert kafka.written == sends[:10] + sends[13:50] + sends[51:]
    (messages,) = truths
    assert [message.value for message in messages] == values(kafka.written)
    assert written == f"ground truth of the 98 messages delivered written to {truth}"


async def test_progress_lines_report_what_could_not_be_sent(kafka: FakeKafka) -> None:
    kafka.refuse = {0: KafkaTimeoutError()}
    lines: list[str] = []
    await run(kafka, 200, None, 300, lines, send_retries=0)
    assert " sent, " in lines[0]
    assert lines[0].endswith("; 1 could not be sent: KafkaTimeoutError")


async def test_a_stop_while_resending_counts_the_message_as_not_sent(
    kafka: FakeKafka,
) -> None:
    kafka.refuse = {20: KafkaTimeoutError()}
    lines: list[str] = []
    resending = asyncio.Event()

    def progress(line: str) -> None:
        lines.append(line)
        if line.startswith("resending"):
            resending.set()

    task = asyncio.create_task(
        sending.run(
            HubSettings(),
            REGISTRY,
            seed=3,
            rate=1e6,
            duration=None,
            count=100,
            progress=progress,
            retry_backoff=3600,  # the stop comes first
            clients=kafka,
            **MIXED,
        )
    )
    await resending.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(kafka.sends) == 21
    assert lines[-1].startswith("stopped: 21 messages")
    assert lines[-1].endswith("; 1 could not be sent: KafkaTimeoutError")


async def test_a_stop_waits_for_the_brokers_only_so_long(
    kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sending, "STOP_FLUSH_SECONDS", 0.01)
    kafka.hold = {30}
    lines: list[str] = []
    task = asyncio.create_task(run(kafka, 1e6, None, None, lines))
    while len(kafka.sends) < 100:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lines[-2] == "the brokers did not take the last messages in 0.01 s"
    assert lines[-1].startswith("stopped: ")
    assert lines[-1].endswith("; 1 could not be sent: not acknowledged before stopping")


async def test_negative_retries_are_refused(kafka: FakeKafka) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        await run(kafka, 1e6, None, 10, [], send_retries=-1)
    with pytest.raises(ValueError, match="cannot be negative"):
        await run(kafka, 1e6, None, 10, [], retry_backoff=-0.5)
    assert kafka.producers == []


def test_incidents_live_in_order_in_their_departments_municipalities() -> None:
    messages = take(20_000)
    counties = {d.code: {c.code for c in d.counties} for d in REGISTRY.departments}
    county_of = {m.code: m.county for m in REGISTRY.municipalities}
    history: dict[str, list[dict[str, Any]]] = {}
    for message in of("incident", messages, "valid"):
        data = message_data(message)
        assert message.key == data["incident_id"].encode()
        history.setdefault(message.entity_key, []).append(data)  # type: ignore[arg-type]
    assert len(history) > 300
    with_grid = set()
    for key, events in history.items():
        opened, *rest = events
        assert opened["event"] == "opened", key
        assert county_of[opened["municipality_code"]] in counties[opened["department"]]
        if "grid_square" in opened:
            with_grid.add(opened["department"])
        times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
        assert times == sorted(times)
        dispatched = {e["unit_id"] for e in rest if e["event"] == "unit_dispatched"}
        on_scene = [e["unit_id"] for e in rest if e["event"] == "unit_on_scene"]
        assert dispatched and set(on_scene) <= dispatched and len(on_scene) == len(set(on_scene))
        if rest[-1]["event"] == "closed":
            assert set(on_scene) == dispatched  # every unit got there before it closed
    assert sum(events[-1]["event"] == "closed" for events in history.values()) > 100
    # Half the departments produce on incident revision 1.1, the others on 1.0.
    assert 0 < len(with_grid) < len(REGISTRY.codes)
    # A committed unit's incident_id names an incident that was opened.
    for message in of("unit-status", messages, "valid"):
        data = message_data(message)
        if "incident_id" in data:
            assert f"{data['department']}/{data['incident_id']}" in history


def test_every_station_reports_its_readiness() -> None:
    simulation = traffic._Simulation(REGISTRY, 1, RATE, (0.0, 0.0, 0.0, 0.0))
    stations = {
        f"{s.department.code}/{s.station_id}" for d in simulation.departments for s in d.stations
    }
    messages = take(len(stations) + 700)
    reported = {m.entity_key for m in of("readiness", messages)}
    assert reported == stations
