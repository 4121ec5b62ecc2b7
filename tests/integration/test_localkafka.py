import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pelastus_hub.tools.localkafka import (
    COMPLETE_MARKER,
    LocalKafka,
    LocalKafkaError,
    ensure_jars,
    kafka_version,
    run_cli,
    stop_detached,
)

pytestmark = pytest.mark.integration

# Bigger than the hub's 1 MiB default limit: the broker must still accept it, so that the
# hub (not the broker) is the one that dead-letters oversized records.
BIG = 2 * 1024 * 1024


async def _create_topic(bootstrap: str) -> str:
    topic = f"localkafka-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def _produce(bootstrap: str, topic: str, sent: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * BIG)
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    received = []
    try:
        async with asyncio.timeout(30):
            while len(received) < count:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    received += [(record.key, record.value) for record in records]
    finally:
        await consumer.stop()
    return received


async def test_records_come_back_exactly(kafka_bootstrap):
    topic = await _create_topic(kafka_bootstrap)
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(5)]
    sent.append((b"big", bytes(range(256)) * (BIG // 256)))
    sent.append((None, b""))
    await _produce(kafka_bootstrap, topic, sent)
    assert await _consume(kafka_bootstrap, topic, len(sent)) == sent


# Sync tests: LocalKafka.start() and run_cli() run event loops of their own.
def test_a_killed_broker_restarts_on_its_data_and_address(tmp_path):
    kafka = LocalKafka(run_dir=tmp_path, progress=lambda line: print(line, file=sys.stderr))
    try:
        bootstrap = kafka.start()
        topic = asyncio.run(_create_topic(bootstrap))
        asyncio.run(_produce(bootstrap, topic, [(b"k", b"before the crash")]))
        data_dir = kafka.data_dir

        kafka.stop_broker(hard=True)
        assert kafka.pid is None and kafka.data_dir == data_dir

        assert kafka.start() == bootstrap
        asyncio.run(_produce(bootstrap, topic, [(b"k", b"after the crash")]))
        received = asyncio.run(_consume(bootstrap, topic, 2))
        assert received == [(b"k", b"before the crash"), (b"k", b"after the crash")]
    finally:
        kafka.stop()
    assert not data_dir.exists()


def test_the_detached_broker_stops_keeping_its_data_and_restarts_on_it(
    tmp_path, monkeypatch, capsys
):
    # The detached broker's data folder goes to the system temp folder: here, into tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    state_file = tmp_path / "kafka.json"
    try:
        assert run_cli("start", state_file) == 0
        started = json.loads(state_file.read_text())
        bootstrap, data_dir = started["bootstrap_servers"], Path(started["data_dir"])
        topic = asyncio.run(_create_topic(bootstrap))
        asyncio.run(_produce(bootstrap, topic, [(None, b"kept")]))

        capsys.readouterr()
        assert run_cli("stop", state_file, keep_data=True) == 0
        assert capsys.readouterr().out.startswith("kafka stopped\n")
        stopped = json.loads(state_file.read_text())
        assert stopped["pid"] is None and stopped["stopped_at"]
        assert stopped["bootstrap_servers"] == bootstrap and data_dir.is_dir()
        assert run_cli("status", state_file) == 1
        assert f"its data kept in {data_dir}" in capsys.readouterr().out

        assert run_cli("start", state_file) == 0
        assert f"restarting at {bootstrap} on its data in {data_dir}" in capsys.readouterr().out
        restarted = json.loads(state_file.read_text())
        assert restarted["bootstrap_servers"] == bootstrap and "stopped_at" not in restarted
        assert asyncio.run(_consume(bootstrap, topic, 1)) == [(None, b"kept")]

        # A plain stop deletes a kept broker too.
        assert run_cli("stop", state_file, keep_data=True) == 0
        assert run_cli("stop", state_file) == 0
        assert capsys.readouterr().out.startswith("kafka stopped\n")
        assert not state_file.exists() and not data_dir.exists()
    finally:
        stop_detached(state_file)


def test_ensure_jars_reuses_a_completed_resolution(tmp_path, monkeypatch):
    lib = tmp_path / f"kafka-{kafka_version()}" / "lib"
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
