"""Sending across a broker outage longer than the producer's request timeout.

The broker is stopped and restarted on its data and ports (LocalKafka.stop_broker and
start), with a request timeout of 2 s so that the outage outlasts it many times over.
"""

import asyncio
import sys
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import pelastus_hub.client.publisher
from pelastus_hub.client.publisher import Publisher
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.topic_admin import ensure_topics
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import simulator

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT_MS = 2000
PARTITIONS = 3
COUNT = 3000


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(HubSettings().schemas_dir)


async def create_topics(settings: HubSettings, topics: list[str]) -> None:
    # The broker does not create topics on demand; the hub's worker would have.
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        await ensure_topics(admin, [NewTopic(topic, PARTITIONS, 1) for topic in topics])
    finally:
        await admin.close()


def event_time(record) -> datetime:
    headers = dict(record.headers)
    if "ce_time" in headers:  # binary mode
        return datetime.fromisoformat(headers["ce_time"].decode())
    return datetime.fromisoformat(orjson.loads(record.value)["time"])


def message(record) -> tuple:
    """What tells a message from every other: in binary mode its id is in a header."""
    return record.value, tuple(record.headers)


async def read_all(bootstrap: str, topics: list[str]) -> dict[TopicPartition, list]:
    """Every record on the topics, by partition; exactly as many as their end offsets say."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: dict[TopicPartition, list] = {tp: [] for tp in partitions}
        async with asyncio.timeout(60):
            while sum(map(len, records.values())) < sum(ends.values()):
                for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                    records[tp].extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_the_simulator_rides_out_a_broker_outage(kafka, registry, tmp_path) -> None:
    bootstrap = kafka.bootstrap_servers
    settings = HubSettings(bootstrap_servers=bootstrap)
    topics = [input_topic(code, family) for code in registry.codes for family in FAMILIES]
    await create_topics(settings, topics)
    lines: list[str] = []
    sending, paused = asyncio.Event(), asyncio.Event()

    def progress(line: str) -> None:
        print(line, file=sys.stderr)
        lines.append(line)
        if " sent, " in line:
            sending.set()
        if line.startswith("sending paused"):
            paused.set()

    truth = tmp_path / "truth.json"
    run = simulator.run(
        settings,
        registry,
        seed=5,
        rate=500,
        duration=None,
        count=COUNT,
        # Only valid messages, none held back: each partition's must arrive in the order
        # of their event times.
        invalid_share=0,
        duplicate_share=0,
        out_of_order_share=0,
        binary_share=0.2,
        progress=progress,
        truth=truth,
        send_retries=10,
        retry_backoff=0.1,
        producer_options={"request_timeout_ms": REQUEST_TIMEOUT_MS},
    )
    task = asyncio.create_task(run)
    async with asyncio.timeout(240):  # a bound on a hang, not a wait for readiness
        await sending.wait()
        await asyncio.to_thread(kafka.stop_broker)
        # A send has failed after the request timeout: the outage has outlasted it.
        await paused.wait()
        assert await asyncio.to_thread(kafka.start) == bootstrap
        counts = await task

    assert counts.total() == COUNT
    assert any(line.startswith("resending ") for line in lines)
    summary, written = lines[-2:]
    assert summary.startswith(f"done: {COUNT} messages")
    assert "could not be sent" not in summary
    assert written == f"ground truth of the {COUNT} messages delivered written to {truth}"
    assert orjson.loads(truth.read_bytes())["units"]

    records = await read_all(bootstrap, topics)
    # A batch the broker wrote as it went down, its acknowledgement lost, failed in the
    # sender all the same: resent, it is there twice (the hub counts the second copy as
    # a duplicate of the event). None is lost, and only resent ones are there twice.
    copies = Counter(message(r) for partition in records.values() for r in partition)
    assert len(copies) == COUNT
    twice = [value for value, n in copies.items() if n > 1]
    assert max(copies.values()) <= 2
    assert len(twice) <= max(
        int(line.split()[1]) for line in lines if line.startswith("resending ")
    )
    for tp, partition in records.items():
        firsts: dict[Any, Any] = {}  # each message's first copy, in the partition's order
        for record in partition:
            firsts.setdefault(message(record), record)
        times = [event_time(record) for record in firsts.values()]
        assert times == sorted(times), f"{tp} out of order"


async def test_a_publish_rides_out_a_broker_outage(kafka, registry, monkeypatch) -> None:
    bootstrap = kafka.bootstrap_servers
    settings = HubSettings(bootstrap_servers=bootstrap)
    topic = input_topic("lappi", "unit-status")
    retried = asyncio.Event()

    async def sleep(seconds: float) -> None:
        retried.set()
        await asyncio.sleep(seconds)

    monkeypatch.setattr(pelastus_hub.client.publisher, "asyncio", SimpleNamespace(sleep=sleep))
    unit = {
        "department": "lappi",
        "unit_id": "RLA101",
        "unit_type": "rescue_unit",
        "status": "available_at_station",
        "station_id": "LA-1",
        "crew": 4,
        "capabilities": [],
        "observed_at": datetime.now(UTC),
    }
    publisher = Publisher(
        "lappi",
        source="/pelastuslaitos/lappi/resource-system",
        settings=settings,
        registry=registry,
        producer_options={"request_timeout_ms": REQUEST_TIMEOUT_MS},
        retries=100,
        retry_backoff_seconds=0.1,
        max_retry_backoff_seconds=0.5,
    )
    async with publisher, asyncio.timeout(240):  # a bound on a hang
        await asyncio.to_thread(kafka.stop_broker)
        publish = asyncio.create_task(publisher.publish("unit-status", unit))
        # The producer could not get the topic's partitions within the request timeout.
        await retried.wait()
        assert await asyncio.to_thread(kafka.start) == bootstrap
        # The topic appears only now, as when the hub's worker starts after the department.
        await create_topics(settings, [topic])
        metadata = await publish
    assert metadata.topic == topic
