"""The Publisher against the real broker: what it sends is what the hub accepts."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pelastus_hub.client.publisher import Publisher, PublishError
from pelastus_hub.contract.records import ValidEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.contract.validator import Validator
from pelastus_hub.families import FAMILIES
from pelastus_hub.families.unit_status import FAMILY as UNIT_STATUS
from pelastus_hub.runtime.topic_admin import ensure_topics
from pelastus_hub.settings import HubSettings

pytestmark = pytest.mark.integration

SOURCE = "/pelastuslaitos/pirkanmaa/resource-system"
TOPIC = input_topic("pirkanmaa", "unit-status")


def unit(unit_id: str) -> dict:
    return {
        "department": "pirkanmaa",
        "unit_id": unit_id,
        "unit_type": "tank_unit",
        "status": "dispatched",
        "station_id": "PI-4",
        "crew": 2,
        "capabilities": ["water_supply"],
        "position": {"lat": 61.49911, "lon": 23.78712},
        "incident_id": "PI-2026-000123",
        "observed_at": datetime.now(UTC) - timedelta(seconds=5),
    }


async def consume_one(bootstrap: str, partition: int, offset: int):
    """The one record at (partition, offset): a reused broker may hold others on the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        async with asyncio.timeout(30):
            return await consumer.getone()
    finally:
        await consumer.stop()


@pytest.mark.parametrize("content_mode", ["structured", "binary"])
async def test_published_events_arrive_as_the_hub_accepts_them(
    kafka_bootstrap, content_mode
) -> None:
    settings = HubSettings(bootstrap_servers=kafka_bootstrap)
    registry = Registry.load(settings.schemas_dir)
    # The broker does not create topics on demand; the hub's worker would have.
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        await ensure_topics(admin, [NewTopic(TOPIC, settings.input_partitions, 1)])
    finally:
        await admin.close()

    async with Publisher("pirkanmaa", source=SOURCE, settings=settings) as publisher:
        metadata = await publisher.publish(
            "unit-status", unit("RPI483"), event_id=f"it-{content_mode}", content_mode=content_mode
        )
    assert metadata.topic == TOPIC

    record = await consume_one(kafka_bootstrap, metadata.partition, metadata.offset)
    assert (record.topic, record.key) == (TOPIC, b"RPI483")
    headers = dict(record.headers)
    if content_mode == "structured":
        assert headers == {"content-type": b"application/cloudevents+json"}
    else:
        assert headers["content-type"] == b"application/json"
        assert headers["ce_id"] == f"it-{content_mode}".encode()
        assert headers["ce_type"] == b"fi.pelastus.unit-status.v1"
        assert headers["ce_source"] == SOURCE.encode()
    validator = Validator.from_settings(registry, FAMILIES, settings)
    event = validator.validate(record, "pirkanmaa", UNIT_STATUS, datetime.now(UTC))
    assert isinstance(event, ValidEvent), event
    assert (event.source, event.id, event.entity_id) == (SOURCE, f"it-{content_mode}", "RPI483")
    assert event.data.incident_id == "PI-2026-000123"


async def test_an_event_the_brokers_refuse_does_not_stop_the_later_ones(broker) -> None:
    """The refused batch leaves a gap in the partition's sequence numbers that would fail
    every later batch with OutOfOrderSequenceNumber; the publisher renews its producer."""
    settings = HubSettings(bootstrap_servers=broker)  # a broker of its own: a topic limit
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        limited = NewTopic(TOPIC, 1, 1, topic_configs={"max.message.bytes": "1000"})
        await ensure_topics(admin, [limited])
    finally:
        await admin.close()
    # Valid, and within the hub's limit, but not the topic's.
    big = unit("RPI480") | {"capabilities": [f"capability_{n:02}_{'x' * 26}" for n in range(32)]}

    async with Publisher("pirkanmaa", source=SOURCE, settings=settings, retries=0) as publisher:
        # Once the brokers know the producer, they expect its next sequence number.
        first = await publisher.publish("unit-status", unit("RPI481"))
        with pytest.raises(PublishError, match="MessageSizeTooLarge"):
            await publisher.publish("unit-status", big)
        later = [await publisher.publish("unit-status", unit(f"RPI48{n}")) for n in range(2, 5)]
    assert [metadata.offset for metadata in (first, *later)] == [0, 1, 2, 3]
