"""Publish a department's events to the hub, checked by the hub's own rules first.

A department system written in Python sends its events with a Publisher: it builds
the CloudEvent, validates the exact record it will send with the hub's Validator
(so a bad event fails in the sender, with the reason code the hub would have
dead-lettered it for) and only then produces it to the department's input topic.

    from datetime import UTC, datetime
    from pelastus_hub.client.publisher import InvalidEvent, Publisher

    async with Publisher("pirkanmaa", source="/pelastuslaitos/pirkanmaa/resource-system") as pub:
        try:
            await pub.publish("unit-status", {
                "department": "pirkanmaa", "unit_id": "RPI487", "unit_type": "rescue_unit",
                "status": "available_at_station", "station_id": "PI-4", "crew": 4,
                "capabilities": ["smoke_diving"], "observed_at": datetime.now(UTC),
            })
        except InvalidEvent as error:
            print(error.rejection.reason, error.rejection.message)

The connection comes from HubSettings (PELASTUS_HUB_BOOTSTRAP_SERVERS and friends).
A send the brokers refuse for a passing reason (no leader, broker unreachable, timed
out) is retried with exponential backoff; one that still fails raises PublishError.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pydantic import BaseModel

from pelastus_hub.clients import KafkaClients, RenewableProducer
from pelastus_hub.contract.envelope import STRUCTURED_CONTENT_TYPE, EventMode
from pelastus_hub.contract.records import Record, Rejection
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.retry import failure_reason, is_resendable, retry_delay
from pelastus_hub.settings import HubSettings

Headers = list[tuple[str, bytes]]
OutgoingRecord = tuple[str, bytes | None, bytes, Headers]  # topic, key, value, headers


class InvalidEvent(ValueError):
    """The hub would reject this event; `rejection` has its reason code and message."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(f"{rejection.reason}: {rejection.message}")
        self.rejection = rejection


class PublishError(Exception):
    """The brokers did not take an event, after all retries the error allowed.

    `topic` is where it was going, `attempts` how often it was sent, `error` the
    last aiokafka error (also the exception's __cause__).
    """

    def __init__(self, topic: str, attempts: int, error: BaseException) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"could not publish to {topic} ({tries}): {failure_reason(error)}")
        self.topic, self.attempts, self.error = topic, attempts, error


class Publisher:
    """Publishes a department's events to the hub, validated before they leave."""

    def __init__(
        self,
        department: str,
        *,
        source: str,
        settings: HubSettings | None = None,
        registry: Registry | None = None,
        producer_options: dict[str, Any] | None = None,
        retries: int = 5,
        retry_backoff_seconds: float = 0.5,
        max_retry_backoff_seconds: float = 10.0,
        clients: KafkaClients | None = None,
    ) -> None:
        """`source` is the CloudEvents source of this system, e.g.
        "/pelastuslaitos/<department>/resource-system"; with each event id it must be
        unique. `producer_options` are further AIOKafkaProducer arguments (e.g.
        linger_ms, client_id, request_timeout_ms); acks="all" and idempotence always
        stay on. `clients` makes the producer (by default of the settings' connection).

        Retries: aiokafka's idempotent producer itself resends an event it has taken
        until the brokers acknowledge it, so during a broker outage publish() mostly
        waits; wrap it in asyncio.timeout() to bound that (an event cut short so may
        still arrive later). What fails is handing the event over: when the producer
        cannot get the topic's partitions, or its buffer for the partition stays
        full, for aiokafka's request timeout (request_timeout_ms, 40 s by default).
        A batch that failed after it was sent (the brokers refused it, or it expired
        without a leader) also makes the publisher renew its producer, since the
        partition's later batches would fail after it; resent, such an event arrives
        twice if the brokers had written it and only the acknowledgement was lost (the
        hub counts the second copy as a duplicate).
        Such a failure, when retriable (is_resendable), is sent again up to `retries` times,
        after `retry_backoff_seconds`, doubled for every further retry up to
        `max_retry_backoff_seconds`: by default 5 retries, after 0.5, 1, 2, 4 and 8 s,
        which with the 40 s request timeout ride out some four minutes.
        """
        if retries < 0 or retry_backoff_seconds < 0 or max_retry_backoff_seconds < 0:
            raise ValueError("retries and retry backoffs cannot be negative")
        self.retries = retries
        self.retry_backoff_seconds = retry_backoff_seconds
        self.max_retry_backoff_seconds = max_retry_backoff_seconds
        self.settings = settings or HubSettings()
        self.registry = registry or Registry.load(self.settings.schemas_dir)
        if department not in self.registry.codes:
            known = ", ".join(sorted(self.registry.codes))
            raise ValueError(f"department {department!r} is not in the registry; known: {known}")
        self.department = department
        self.source = source
        self.validator = Validator.from_settings(self.registry, FAMILIES, self.settings)
        self._clients = clients
        # Duplicates or reordering on a retry would reach the hub as the department's
        # own mistakes, so these two are not options.
        self._producer_options = {**(producer_options or {}), "acks": "all"}
        self._producer: RenewableProducer | None = None

    @property
    def clients(self) -> KafkaClients:
        """What makes the producer: made when first needed, as a publisher that only
        builds events needs no connection settings."""
        if self._clients is None:
            self._clients = KafkaClients.from_settings(self.settings)
        return self._clients

    async def __aenter__(self) -> "Publisher":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect to the brokers; ConnectFailed says why that cannot be done (nothing
        listening, TLS expected, an untrusted certificate, a refused login)."""
        if self._producer is not None:
            raise RuntimeError("the publisher is already started")
        producer = RenewableProducer(self.clients, "to the hub's brokers", **self._producer_options)
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Send what is pending and disconnect; a stopped publisher may be started again."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(
        self,
        family: str,
        data: dict[str, Any] | BaseModel,
        *,
        event_id: str | None = None,
        time: datetime | None = None,
        mode: EventMode = "actual",
        content_mode: Literal["structured", "binary"] = "structured",
    ) -> RecordMetadata:
        """Send one event and wait for the brokers' acknowledgement.

        `data` is the event's data: a dict (datetimes in it are sent as RFC 3339) or
        an instance of the family's model. `event_id` defaults to a new UUID, `time`
        (the CloudEvents time, when the event was created) to now. `mode` marks exercise
        and test events, which never count as real capability. Raises InvalidEvent,
        sending nothing, if the hub would reject the event, and PublishError if the
        brokers did not take it after the retries (see the constructor).

        Publishes awaited one after another reach the hub in order. Concurrent ones of
        the same entity may be reordered when one of them is retried: await each in
        turn where the order matters.
        """
        if self._producer is None:
            raise RuntimeError("start the publisher first (await start() or async with)")
        record = self.build(
            family, data, event_id=event_id, time=time, mode=mode, content_mode=content_mode
        )
        backoff = (self.retry_backoff_seconds, self.max_retry_backoff_seconds)
        return await _send(self._producer, record, self.retries, *backoff)

    def build(
        self,
        family: str,
        data: dict[str, Any] | BaseModel,
        *,
        event_id: str | None = None,
        time: datetime | None = None,
        mode: EventMode = "actual",
        content_mode: Literal["structured", "binary"] = "structured",
    ) -> OutgoingRecord:
        """The record publish() sends, validated: (topic, key, value, headers).

        Sends nothing; raises InvalidEvent with the hub's rejection, or ValueError for
        a family the hub does not know.
        """
        known = FAMILIES.get(family)
        if known is None:
            raise ValueError(f"unknown family {family!r}; known: {', '.join(sorted(FAMILIES))}")
        if isinstance(data, BaseModel):
            # Fields never given stay out: absent and null differ where a schema allows no null.
            data = data.model_dump(mode="json", exclude_unset=True)
        event_type = f"fi.pelastus.{family}.v{max(known.models)}"
        value, headers = _cloud_event(
            self.source, event_type, data, event_id, time, mode, content_mode
        )
        # A key that is missing or not a string makes the data invalid anyway, and the
        # Validator reports the schema error before it would look at the key.
        entity_id = data.get(known.key_field)
        key = entity_id.encode() if isinstance(entity_id, str) else None
        record = Record(input_topic(self.department, family), key, value, headers)
        # Exactly the hub's check, so the publisher is never stricter or more lenient than
        # the hub; only the event-time check runs against this machine's clock.
        outcome = self.validator.validate(record, self.department, known, datetime.now(UTC))
        if isinstance(outcome, Rejection):
            raise InvalidEvent(outcome)
        return record.topic, record.key, record.value, record.headers


def _cloud_event(
    source: str,
    event_type: str,
    data: dict[str, Any],
    event_id: str | None,
    time: datetime | None,
    mode: EventMode,
    content_mode: str,
) -> tuple[bytes, Headers]:
    """The CloudEvent's value and headers, in the content mode."""
    attributes = {
        "specversion": "1.0",
        "id": event_id if event_id is not None else str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": (time or datetime.now(UTC)).isoformat(),
    }
    if mode != "actual":  # absent means actual, as for departments' own producers
        attributes["mode"] = mode
    if content_mode == "structured":
        value = orjson.dumps({**attributes, "datacontenttype": "application/json", "data": data})
        return value, [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
    if content_mode == "binary":
        # Kafka protocol binding: attributes as ce_* headers, datacontenttype as content-type.
        headers = [(f"ce_{name}", v.encode()) for name, v in attributes.items()]
        return orjson.dumps(data), [*headers, ("content-type", b"application/json")]
    raise ValueError(f"content_mode must be 'structured' or 'binary', not {content_mode!r}")


async def _send(
    producer: RenewableProducer,
    record: OutgoingRecord,
    retries: int,
    backoff: float,
    max_backoff: float,
) -> RecordMetadata:
    """Send the record and wait for its acknowledgement, sending it again after a retriable
    failure up to `retries` times; raises PublishError if it still fails."""
    topic, key, value, headers = record
    attempt = 1
    while True:
        try:
            used = await producer.ready()
            delivery = await used.send(topic, value, key, headers=headers)
        except KafkaError as error:
            failure = error
        else:
            try:
                return await delivery
            except KafkaError as error:
                failure = error
                # The batch had its sequence number: later ones would all fail after it.
                producer.failed(used)
        if attempt > retries or not is_resendable(failure):
            raise PublishError(topic, attempt, failure) from failure
        await asyncio.sleep(retry_delay(attempt, backoff, max_backoff))
        attempt += 1
