"""The Publisher without a broker: the records it builds, and what it refuses to send."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

import pelastus_hub.client.publisher
from pelastus_hub.client.publisher import InvalidEvent, Publisher, PublishError
from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.unit_status import UnitStatusV1
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.unit_status import FAMILY as UNIT_STATUS
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka, Sent
from tests.unit.helpers import SCHEMAS, Record

REGISTRY = Registry.load(SCHEMAS)
SETTINGS = HubSettings(bootstrap_servers="broker.invalid:9092")
SOURCE = "/pelastuslaitos/pirkanmaa/resource-system"
TOPIC = "dept.pirkanmaa.unit-status"
TIME = datetime(2026, 11, 28, 7, 45, 13, tzinfo=timezone(timedelta(hours=2)))
# Within the allowed clock skew of whenever the tests run.
OBSERVED = datetime(
    2026, 11, 28, 7, 59, 0, 123456, tzinfo=UTC
)  # fixed: tests never lean on the clock


def unit(**changes: Any) -> dict[str, Any]:
    data = {
        "department": "pirkanmaa",
        "unit_id": "RPI487",
        "unit_type": "rescue_unit",
        "status": "available_at_station",
        "station_id": "PI-4",
        "crew": 4,
        "capabilities": ["smoke_diving", "hydraulic_tools"],
        "observed_at": OBSERVED.isoformat(),
    }
    data.update(changes)
    return data


def publisher(**options: Any) -> Publisher:
    return Publisher("pirkanmaa", source=SOURCE, settings=SETTINGS, registry=REGISTRY, **options)


def hub_accepts(topic: str, key: bytes | None, value: bytes, headers: list) -> ValidEvent:
    """What the hub itself makes of the record, as it would consume it."""
    validator = Validator(REGISTRY, FAMILIES, SETTINGS.max_message_bytes, 300)
    result = validator.validate(
        Record(topic, key, value, tuple(headers)), "pirkanmaa", UNIT_STATUS, datetime.now(UTC)
    )
    assert isinstance(result, ValidEvent), result
    return result


@pytest.fixture
def kafka() -> FakeKafka:
    return FakeKafka()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The publisher's backoff sleeps, recorded instead of slept."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(pelastus_hub.client.publisher, "asyncio", SimpleNamespace(sleep=sleep))
    return slept


def test_structured_record() -> None:
    topic, key, value, headers = publisher().build("unit-status", unit(), event_id="e1", time=TIME)
    assert (topic, key) == (TOPIC, b"RPI487")
    assert headers == [("content-type", b"application/cloudevents+json")]
    assert orjson.loads(value) == {
        "specversion": "1.0",
        "id": "e1",
        "source": SOURCE,
        "type": "fi.pelastus.unit-status.v1",
        "time": "2026-11-28T07:45:13+02:00",
        "datacontenttype": "application/json",
        "data": unit(),
    }
    event = hub_accepts(topic, key, value, headers)
    assert (event.source, event.id, event.entity_id) == (SOURCE, "e1", "RPI487")


def test_binary_record() -> None:
    topic, key, value, headers = publisher().build(
        "unit-status", unit(), event_id="e2", time=TIME, content_mode="binary"
    )
    assert (topic, key) == (TOPIC, b"RPI487")
    assert headers == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"e2"),
        ("ce_source", SOURCE.encode()),
        ("ce_type", b"fi.pelastus.unit-status.v1"),
        ("ce_time", b"2026-11-28T07:45:13+02:00"),
        ("content-type", b"application/json"),
    ]
    assert orjson.loads(value) == unit()
    assert hub_accepts(topic, key, value, headers).id == "e2"


def test_id_and_time_default_to_a_uuid_and_now() -> None:
    before = datetime.now(UTC)
    _, _, value, _ = publisher().build("unit-status", unit())
    event = orjson.loads(value)
    assert uuid.UUID(event["id"]).version == 4
    assert before <= datetime.fromisoformat(event["time"]) <= datetime.now(UTC)


@pytest.mark.parametrize("observed", [OBSERVED, OBSERVED.astimezone(timezone(timedelta(hours=2)))])
@pytest.mark.parametrize("content_mode", ["structured", "binary"])
def test_model_instances_and_datetimes_are_sent_as_rfc3339(observed, content_mode) -> None:
    model = UnitStatusV1.model_validate({**unit(), "observed_at": observed.isoformat()})
    for data in (model, unit(observed_at=observed)):
        record = publisher().build("unit-status", data, content_mode=content_mode)
        event = hub_accepts(*record)
        assert event.event_time == observed
        # Structured, it is the quick decoder's (pelastus_hub.contract.quick_decode).
        assert {f: getattr(event.data, f) for f in UnitStatusV1.model_fields} == dict(model)
    sent = orjson.loads(publisher().build("unit-status", model, content_mode=content_mode)[2])
    sent_data = sent if content_mode == "binary" else sent["data"]
    assert "position" not in sent_data and "incident_id" not in sent_data  # never given


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (unit(crew=-1), Reason.SCHEMA_INVALID, "crew: Input should be greater than"),
        ({k: v for k, v in unit().items() if k != "unit_id"}, Reason.SCHEMA_INVALID, "unit_id"),
        (unit(unit_id=487), Reason.SCHEMA_INVALID, "unit_id"),
        (unit(department="lappi"), Reason.DEPARTMENT_MISMATCH, "'lappi' does not match"),
        (unit(department="tuntematon"), Reason.DEPARTMENT_UNKNOWN, "'tuntematon'"),
        (
            unit(observed_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()),
            Reason.EVENT_TIME_IN_FUTURE,
            "observed_at",
        ),
    ],
)
@pytest.mark.parametrize("content_mode", ["structured", "binary"])
def test_invalid_events_are_refused_with_the_hubs_reason(
    data, reason, message, content_mode
) -> None:
    with pytest.raises(InvalidEvent) as raised:
        publisher().build("unit-status", data, event_id="bad-1", content_mode=content_mode)
    assert raised.value.rejection.reason == reason
    assert message in raised.value.rejection.message
    assert str(raised.value).startswith(f"{reason}: ")


def test_envelope_attributes_are_checked_too() -> None:
    with pytest.raises(InvalidEvent) as raised:
        publisher().build("unit-status", unit(), time=datetime(2026, 11, 28, 7, 45))  # naive
    assert raised.value.rejection.reason == Reason.ENVELOPE_FIELD_INVALID
    with pytest.raises(InvalidEvent) as raised:
        publisher().build("unit-status", unit(), event_id="x" * 129)
    assert raised.value.rejection.reason == Reason.ENVELOPE_FIELD_INVALID


def test_too_large_values_are_refused() -> None:
    small = HubSettings(bootstrap_servers="broker.invalid:9092", max_message_bytes=200)
    tiny = Publisher("pirkanmaa", source=SOURCE, settings=small, registry=REGISTRY)
    with pytest.raises(InvalidEvent) as raised:
        tiny.build("unit-status", unit())
    assert raised.value.rejection.reason == Reason.VALUE_TOO_LARGE


def test_unknown_department_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="'tuntematon' is not in the registry") as raised:
        Publisher("tuntematon", source=SOURCE, settings=SETTINGS, registry=REGISTRY)
    assert "pirkanmaa" in str(raised.value) and "lappi" in str(raised.value)
    assert not isinstance(raised.value, InvalidEvent)


def test_unknown_family_and_mode_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match="unknown family 'vehicle-position'; known: incident, readiness, unit-status",
    ):
        publisher().build("vehicle-position", unit())
    with pytest.raises(ValueError, match="content_mode must be"):
        publisher().build("unit-status", unit(), content_mode="avro")  # type: ignore[arg-type]


async def test_publish_sends_the_built_record(kafka: FakeKafka) -> None:
    options = {"linger_ms": 5, "acks": 1}
    async with publisher(producer_options=options, clients=kafka) as pub:
        metadata = await pub.publish("unit-status", unit(), event_id="e3", time=TIME)
        expected = pub.build("unit-status", unit(), event_id="e3", time=TIME)
    (producer,) = kafka.producers
    assert producer.config == {
        "linger_ms": 5,
        "acks": "all",  # not overridable
        "enable_idempotence": True,
    }
    assert kafka.written == [Sent(*expected)]
    assert metadata.topic == TOPIC
    assert kafka.log == ["start", "stop"]


def test_the_producer_connects_as_the_settings_say() -> None:
    assert publisher().clients.options == {
        "bootstrap_servers": "broker.invalid:9092",
        "security_protocol": "PLAINTEXT",
    }


async def test_invalid_events_are_not_sent(kafka: FakeKafka) -> None:
    async with publisher(clients=kafka) as pub:
        with pytest.raises(InvalidEvent) as raised:
            await pub.publish("unit-status", unit(crew=-1))
        with pytest.raises(InvalidEvent):
            await pub.publish("unit-status", unit(department="lappi"), content_mode="binary")
    assert raised.value.rejection.reason == Reason.SCHEMA_INVALID
    assert kafka.sends == []


async def test_publish_needs_a_started_publisher(kafka: FakeKafka) -> None:
    pub = publisher(clients=kafka)
    with pytest.raises(RuntimeError, match="start the publisher first"):
        await pub.publish("unit-status", unit())
    await pub.start()
    with pytest.raises(RuntimeError, match="already started"):
        await pub.start()
    await pub.stop()
    with pytest.raises(RuntimeError, match="start the publisher first"):
        await pub.publish("unit-status", unit())


async def test_a_failed_start_closes_the_producer(kafka: FakeKafka) -> None:
    kafka.start_error = ConnectionError("no broker")
    pub = publisher(clients=kafka)
    with pytest.raises(ConnectionError):
        await pub.start()
    assert kafka.log == ["stop"]
    with pytest.raises(RuntimeError, match="start the publisher first"):
        await pub.publish("unit-status", unit())


@pytest.mark.parametrize("content_mode", ["structured", "binary"])
def test_exercise_mode_travels_in_the_envelope(content_mode) -> None:
    topic, key, value, headers = publisher().build(
        "unit-status", unit(), mode="exercise", content_mode=content_mode
    )
    checked = Validator(REGISTRY, FAMILIES, 1 << 20, 300).validate(
        Record(topic, key, value, headers), "pirkanmaa", UNIT_STATUS, datetime.now(UTC)
    )
    assert checked.mode == "exercise"


@pytest.mark.parametrize(
    ("family", "example", "key"),
    [
        ("unit-status", "valid-null-optionals", b"EPI121"),
        ("incident", "valid-closed", b"PI-2026-004512"),
        ("incident", "valid-opened-without-risk-class", b"PI-2026-004513"),
        ("readiness", "valid-volunteer-station", b"PI-31"),
    ],
)
def test_a_model_instance_of_every_family_is_published_as_given(
    family: str, example: str, key: bytes
) -> None:
    """Optional fields left out stay out: null is no value where a schema allows none."""
    data = json.loads((SCHEMAS / family / "examples" / f"{example}.json").read_text())
    model = FAMILIES[family].models[1].model_validate(data)
    topic, record_key, value, _ = publisher().build(family, model, time=TIME)
    assert (topic, record_key) == (f"dept.pirkanmaa.{family}", key)
    sent = json.loads(value)["data"]
    assert set(sent) == set(data)


async def test_retriable_failures_are_sent_again_after_a_growing_backoff(
    kafka: FakeKafka, sleeps
) -> None:
    kafka.refuse = {0: KafkaTimeoutError(), 1: UnknownTopicOrPartitionError()}
    async with publisher(clients=kafka) as pub:
        metadata = await pub.publish("unit-status", unit(), event_id="e4", time=TIME)
        expected = pub.build("unit-status", unit(), event_id="e4", time=TIME)
    assert metadata.topic == TOPIC
    assert len(kafka.sends) == 3 and sleeps == [0.5, 1.0]
    assert kafka.written == [Sent(*expected)]
    assert len(kafka.producers) == 1  # refused ones had no sequence number yet


@pytest.mark.parametrize("error", [NotLeaderForPartitionError(), OutOfOrderSequenceNumber()])
async def test_a_delivery_that_failed_is_sent_again_by_a_new_producer(
    kafka: FakeKafka, sleeps, error
) -> None:
    kafka.fail = {0: error}
    async with publisher(clients=kafka) as pub:
        metadata = await pub.publish("unit-status", unit(), event_id="e5", time=TIME)
    assert metadata.offset == 1
    assert len(kafka.producers) == 2 and sleeps == [0.5]
    assert kafka.log == ["start", "start", "stop", "stop"]  # the new one before the old stops


async def test_after_a_delivery_failed_for_good_the_next_event_has_a_new_producer(
    kafka: FakeKafka, sleeps
) -> None:
    kafka.fail = {0: TopicAuthorizationFailedError(TOPIC)}
    async with publisher(clients=kafka) as pub:
        with pytest.raises(PublishError, match=r"\(1 attempt\): \[Error 29\]"):
            await pub.publish("unit-status", unit())
        assert (await pub.publish("unit-status", unit())).offset == 1
    assert sleeps == [] and len(kafka.producers) == 2
    assert kafka.log == ["start", "start", "stop", "stop"]


async def test_a_publish_failing_after_its_retries_raises_publish_error(
    kafka: FakeKafka, sleeps
) -> None:
    last = NotLeaderForPartitionError()
    kafka.refuse = {0: KafkaTimeoutError(), 1: KafkaTimeoutError(), 2: KafkaTimeoutError(), 3: last}
    retries = {"retries": 3, "retry_backoff_seconds": 1, "max_retry_backoff_seconds": 3}
    async with publisher(**retries, clients=kafka) as pub:
        with pytest.raises(PublishError) as raised:
            await pub.publish("unit-status", unit())
    assert str(raised.value) == (
        f"could not publish to {TOPIC} (4 attempts): [Error 6] NotLeaderForPartitionError"
    )
    assert (raised.value.topic, raised.value.attempts, raised.value.error) == (TOPIC, 4, last)
    assert raised.value.__cause__ is last
    assert sleeps == [1, 2, 3]
    assert kafka.written == []


@pytest.mark.parametrize("retries", [0, 5])
async def test_errors_that_would_recur_are_not_retried(kafka: FakeKafka, sleeps, retries) -> None:
    kafka.refuse = {0: TopicAuthorizationFailedError(TOPIC)}
    async with publisher(retries=retries, clients=kafka) as pub:
        with pytest.raises(PublishError, match=r"\(1 attempt\): \[Error 29\] TopicAuthorization"):
            await pub.publish("unit-status", unit())
    assert len(kafka.sends) == 1 and sleeps == []


async def test_no_retries_means_one_attempt(kafka: FakeKafka, sleeps) -> None:
    kafka.refuse = {0: KafkaTimeoutError(), 1: KafkaTimeoutError()}
    async with publisher(retries=0, clients=kafka) as pub:
        with pytest.raises(PublishError, match=r"\(1 attempt\): KafkaTimeoutError$"):
            await pub.publish("unit-status", unit())
    assert sleeps == []


@pytest.mark.parametrize(
    "options",
    [{"retries": -1}, {"retry_backoff_seconds": -0.1}, {"max_retry_backoff_seconds": -1}],
)
def test_negative_retry_settings_are_refused(options) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        publisher(**options)
