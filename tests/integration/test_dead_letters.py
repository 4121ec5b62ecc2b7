"""`pelastus-hub dead-letters` on the real broker: list, show and export what a worker
dead-lettered, and replay it after a fix on the hub's side, to its acceptance."""

import asyncio
import json
import os
import subprocess
import sys

import orjson
import pytest
from aiokafka import TopicPartition

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.settings import HubSettings
from tests.integration.hub_process import REPO, WorkerProcess
from tests.unit.helpers import event

pytestmark = pytest.mark.integration

# An event time this far ahead is in the future whenever the test runs; a hub allowing
# a skew of a century takes it.
FUTURE = "2100-01-01T08:00:00+02:00"
CENTURY = str(100 * 365 * 24 * 3600)


def cli(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", "dead-letters", *args],
        env={**os.environ, "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def send(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = KafkaClients.from_settings(HubSettings(bootstrap_servers=bootstrap)).producer()
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key)
    finally:
        await producer.stop()


async def last_headers(bootstrap: str, topic: str) -> list[dict[str, bytes]]:
    clients = KafkaClients.from_settings(HubSettings(bootstrap_servers=bootstrap))
    consumer = clients.consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        found = []
        for number in range(HubSettings().input_partitions):
            tp = TopicPartition(topic, number)
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            if end:
                consumer.seek(tp, end - 1)
                (record,) = (await consumer.getmany(tp, timeout_ms=5000))[tp]
                found.append(dict(record.headers))
        return found
    finally:
        await consumer.stop()


def test_dead_letters_are_listed_shown_exported_and_replayed_to_acceptance(kafka, tmp_path):
    bootstrap = kafka.bootstrap_servers
    strict = WorkerProcess(bootstrap, tmp_path / "strict.log", max_clock_skew_seconds="60")
    strict.start()
    ahead = event(observed_at=FUTURE)
    wrong = event(department="lappi", crew=-1)
    asyncio.run(
        send(
            bootstrap,
            [
                (input_topic("pirkanmaa", "unit-status"), b"RPI487", orjson.dumps(ahead)),
                (input_topic("lappi", "unit-status"), b"RPI487", orjson.dumps(wrong)),
            ],
        )
    )
    strict.wait_consumed(2)

    listed = cli(bootstrap, "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    letters = json.loads(listed.stdout)
    assert sorted((x["department"], x["reason"], x["pointer"]) for x in letters) == [
        ("lappi", "schema_invalid", "/data/crew"),
        ("pirkanmaa", "event_time_in_future", "/data/observed_at"),
    ]
    (future,) = [x for x in letters if x["department"] == "pirkanmaa"]
    assert future["topic"] == "dept.pirkanmaa.unit-status" and future["omitted"] == {}

    text = cli(bootstrap, "list", "--department", "lappi")
    assert text.stdout.count("\n") == 1 and "schema_invalid at /data/crew" in text.stdout
    assert "1 dead letters" in text.stderr

    shown = cli(bootstrap, "show", future["dead_letter"])
    assert json.loads(shown.stdout)["value"]["data"]["observed_at"] == FUTURE
    assert cli(bootstrap, "show", "0:999").returncode == 1

    exported = tmp_path / "letters.jsonl"
    assert cli(bootstrap, "export", "--output", str(exported)).returncode == 0
    assert [json.loads(line)["dead_letter"] for line in exported.read_text().splitlines()] == [
        x["dead_letter"] for x in letters
    ]

    dry = cli(bootstrap, "replay", "--reason", "event_time_in_future", "--dry-run")
    assert "would replay 1 of 1: 1 to dept.pirkanmaa.unit-status" in dry.stderr, dry.stderr
    assert strict.stop() == 0

    # The fix on the hub's side: a worker that allows the skew. It goes on from the
    # committed offsets, so it sees only what is replayed.
    lenient = WorkerProcess(bootstrap, tmp_path / "lenient.log", max_clock_skew_seconds=CENTURY)
    lenient.start()
    done = cli(bootstrap, "replay", "--reason", "event_time_in_future")
    assert "replayed 1 of 1: 1 to dept.pirkanmaa.unit-status" in done.stderr, done.stderr
    assert lenient.wait_consumed(1) == {("pirkanmaa", "accepted"): 1}
    headers = asyncio.run(last_headers(bootstrap, input_topic("pirkanmaa", "unit-status")))
    assert {b"hub.dead-letter/" + future["dead_letter"].replace(":", "/").encode()} == {
        h["hub.replayed-from"] for h in headers if "hub.replayed-from" in h
    }
    assert lenient.stop() == 0


def test_bad_selections_are_refused_before_any_broker_is_asked(tmp_path):
    nowhere = "127.0.0.1:9"  # nothing listens there: each must be refused before connecting
    assert "known:" in cli(nowhere, "list", "--department", "atlantis").stderr
    assert "known:" in cli(nowhere, "list", "--reason", "bad_vibes").stderr
    assert "UTC offset" in cli(nowhere, "list", "--since", "yesterday").stderr
    assert "<partition>:<offset>" in cli(nowhere, "show", "seven").stderr
    assert "replay wants names or a selection" in cli(nowhere, "replay").stderr
