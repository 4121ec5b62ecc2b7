import asyncio
import shutil
import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.localkafka import COMPLETE_MARKER, KAFKA_VERSION, LocalKafkaError, ensure_jars

pytestmark = pytest.mark.integration

# Bigger than the hub's 1 MiB default limit: the broker must still accept it, so that the
# hub (not the broker) is the one that dead-letters oversized records.
BIG = 2 * 1024 * 1024


async def test_records_come_back_exactly(kafka_bootstrap):
    topic = f"localkafka-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(5)]
    sent.append((b"big", bytes(range(256)) * (BIG // 256)))
    sent.append((None, b""))

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=2 * BIG)
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    received = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    received += [(record.key, record.value) for record in records]
    finally:
        await consumer.stop()
    assert received == sent


def test_ensure_jars_reuses_a_completed_resolution(tmp_path, monkeypatch):
    lib = tmp_path / f"kafka-{KAFKA_VERSION}" / "lib"
    lib.mkdir(parents=True)
    (lib / COMPLETE_MARKER).write_text("done\n")

    def must_not_run(*args, **kwargs):
        raise AssertionError("ensure_jars ran Maven although the cache was complete")

    monkeypatch.setattr(shutil, "which", must_not_run)
    monkeypatch.setattr(subprocess, "Popen", must_not_run)
    progress = []
    assert ensure_jars(tmp_path, progress.append) == lib
    assert progress == []


def test_ensure_jars_without_maven_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(LocalKafkaError, match="package: maven"):
        ensure_jars(tmp_path, print)
    assert not any(tmp_path.iterdir())  # nothing half-made is left behind
