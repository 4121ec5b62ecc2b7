"""Chaos on the real broker: workers SIGKILLed again and again, while one and while two run,
and the broker itself killed and restarted on its data and port after staying down longer
than every client timeout. Afterwards the hub must agree exactly with the simulation's
ground truth, worked out without the hub's code: every department's picture and every
closed hour's KPIs; the dead letters are exactly the invalid inputs, each once; and the
snapshot sequence never repeats or goes back.

PELASTUS_HUB_CHAOS_KILLS (default 10) and PELASTUS_HUB_CHAOS_OUTAGE_SECONDS (default 65:
longer than aiokafka's 40 s request timeout and the 30 s transaction timeout) size it.
"""

import asyncio
import itertools
import json
import os
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from pelastus_hub.tools.simulator import generate, ground_truth, message_data
from tests.integration.hub_process import WorkerProcess
from tests.integration.test_oracle import (
    GRACE,
    HELSINKI,
    RATE,
    SHARES,
    as_measured,
    expected_kpis,
    hour_of,
)
from tests.integration.test_several_workers import (
    REGISTRY,
    as_published,
    expected_picture,
    snapshot_after_request,
)
from tests.integration.test_worker import read_all

pytestmark = pytest.mark.integration

KILLS = int(os.environ.get("PELASTUS_HUB_CHAOS_KILLS", "10"))
OUTAGE_SECONDS = float(os.environ.get("PELASTUS_HUB_CHAOS_OUTAGE_SECONDS", "65"))
COUNT = 3000
SEED = 21


def scenario_start() -> datetime:
    """A whole hour at least three hours ago, whose three hours lie in one Finnish day: the
    same windows on every run, all in the past, and no day closes."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    while (
        start.astimezone(HELSINKI).date()
        != (start + timedelta(hours=3)).astimezone(HELSINKI).date()
    ):
        start -= timedelta(hours=1)
    return start


def never_late(messages: list, chunks: list[list]) -> bool:
    """Whether every incident event comes before any window of its incident can close,
    however the chunk it is sent in is processed: its department's stream time at the end
    of that chunk is still short of the incident's hour end plus grace."""
    alarms = {
        f"{i['department']}/{i['incident_id']}": datetime.fromisoformat(i["opened_at"])
        for i in ground_truth(messages)["incidents"].values()
        if i["opened_at"]
    }
    stream: dict[str, datetime] = {}
    for chunk in chunks:
        events = [message_data(m) for m in chunk if m.kind == "valid" and m.family == "incident"]
        for data in events:
            when = datetime.fromisoformat(data["occurred_at"])
            stream[data["department"]] = max(stream.get(data["department"], when), when)
        for data in events:
            alarm = alarms.get(f"{data['department']}/{data['incident_id']}")
            closes = alarm and hour_of(alarm.isoformat()) + timedelta(hours=1, seconds=GRACE)
            if closes and stream[data["department"]] >= closes:
                return False
    return True


async def produce(bootstrap: str, messages: list) -> list[tuple[str, int, int]]:
    """Send in order; where each landed (topic, partition, offset)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        sent = [
            await producer.send(m.topic, m.value, m.key, headers=list(m.headers)) for m in messages
        ]
        return [(r.topic, r.partition, r.offset) for r in await asyncio.gather(*sent)]
    finally:
        await producer.stop()


async def committed_everything(bootstrap: str, placed: list[tuple[str, int, int]]) -> bool:
    """Whether the workers' group has committed the offsets after every record sent."""
    ends: dict[TopicPartition, int] = {}
    for topic, partition, offset in placed:
        tp = TopicPartition(topic, partition)
        ends[tp] = max(ends.get(tp, 0), offset + 1)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets("pelastus-hub")
    finally:
        await admin.close()
    return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())


async def wait_committed(bootstrap: str, placed: list, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not await committed_everything(bootstrap, placed):
        assert time.monotonic() < deadline, "the workers did not get through the records sent"
        await asyncio.sleep(0.5)


async def test_kills_and_a_broker_outage_leave_the_national_picture_exact(kafka, tmp_path):
    messages = list(
        itertools.islice(generate(REGISTRY, SEED, scenario_start(), RATE, **SHARES), COUNT)
    )
    rounds = KILLS + 2  # traffic before the first kill and after the outage too
    size = -(-COUNT // rounds)
    chunks = [messages[i : i + size] for i in range(0, COUNT, size)]
    assert never_late(messages, chunks)
    expected = expected_kpis(ground_truth(messages), messages)
    assert len(expected) >= 20

    rng = random.Random(SEED)
    bootstrap = kafka.bootstrap_servers
    workers = [
        WorkerProcess(bootstrap, tmp_path / f"worker-{i}.log", kpi_grace_seconds=str(GRACE))
        for i in (1, 2)
    ]
    workers[0].start()
    placed: list[tuple[str, int, int]] = []
    kills: list[str] = []
    recoveries: list[float] = []  # seconds from a kill to the restarted worker's readiness
    outage_at = KILLS * 2 // 3
    try:
        for number, chunk in enumerate(chunks):
            placed += await produce(bootstrap, chunk)
            if number == KILLS // 2:
                workers[1].start()  # from here on, two share the work
            if number < KILLS:
                running = [w for w in workers if w.process and w.process.poll() is None]
                victim = rng.choice(running)
                # While the chunk is being worked through: mid-batch, mid-commit or idle.
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                victim.kill()
                killed = time.monotonic()
                victim.start()
                kills.append(f"{victim.log_path.stem} of {len(running)}")
                recoveries.append(time.monotonic() - killed)
            if number == outage_at:
                kafka.stop_broker(hard=True)
                await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for readiness
                assert await asyncio.to_thread(kafka.start) == bootstrap
                for worker in workers:
                    assert worker.process.poll() is None, worker.log_path.read_text()[-3000:]
            await wait_committed(bootstrap, placed)
        print(
            f"\nkilled {len(kills)} times ({', '.join(kills)}); kill to ready again "
            f"{min(recoveries):.1f}-{max(recoveries):.1f} s; broker down "
            f"{OUTAGE_SECONDS:.0f} s after round {outage_at}",
            file=sys.stderr,
        )
        assert len(kills) >= KILLS

        snapshot = await snapshot_after_request(bootstrap)
        assert as_published(snapshot) == expected_picture(ground_truth(messages))
        finals = {
            r.key.decode(): json.loads(r.value) for r in await read_all(bootstrap, "national.kpi")
        }
        assert {k: as_measured(v) for k, v in finals.items()} == expected

        where = dict(zip(range(len(messages)), placed, strict=True))
        invalid = {where[i] for i, m in enumerate(messages) if m.kind.startswith("invalid:")}
        letters = await read_all(bootstrap, "hub.dead-letter", partitions=3)
        origins = [
            (
                h["hub.error.topic"].decode(),
                int(h["hub.error.partition"]),
                int(h["hub.error.offset"]),
            )
            for h in (dict(d.headers) for d in letters)
        ]
        assert Counter(origins) == Counter(invalid)  # exactly the invalid inputs, each once
        feedback = Counter()
        for code in REGISTRY.codes:
            for record in await read_all(bootstrap, f"feedback.{code}"):
                document = json.loads(record.value)
                if document["severity"] == "error":
                    feedback[document["topic"], document["partition"], document["offset"]] += 1
        assert feedback == Counter(invalid)

        published = await read_all(bootstrap, "national.capability")
        sequences = [json.loads(r.value)["sequence"] for r in published]
        assert sequences == list(range(1, len(sequences) + 1))
    finally:
        for worker in workers:
            if worker.process and worker.process.poll() is None:
                worker.stop()
