"""Latency, memory and CPU of the production worker, `pelastus-hub worker` in a child process
logging to .run/bench-worker.log: it consumes a backlog, then a steady load."""

import argparse
import asyncio
import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pelastus_hub.contract import topics
from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import RUN_DIR
from pelastus_hub.tools.bench.backlog import SEED, Positions, say, start_group_at, unit_statuses
from pelastus_hub.tools.bench.workers import consumed, cpu_seconds, peak_rss_bytes, worker_env
from pelastus_hub.tools.ports import free_ports
from pelastus_hub.tools.simulator import generate, message_data
from pelastus_hub.tools.worker_process import WorkerProcess


async def latency(
    settings: HubSettings, registry: Registry, rate: float, seconds: float
) -> list[float]:
    """Seconds from produce to the first snapshot whose department last_event_time covers it.

    Each department's messages go to partition 0 of its topic and carry the send
    time as event time, so a snapshot showing a department's event time t has
    processed every message of that department sent up to t.
    """
    count = int(rate * seconds)
    # Committed snapshots only, as the hub's readers see them.
    consumer = AIOKafkaConsumer(
        topics.CAPABILITY,
        **settings.kafka_options(),
        auto_offset_reset="latest",
        isolation_level="read_committed",
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=500)  # be at the end before producing
    snapshots: list[tuple[float, dict[str, datetime]]] = []

    async def collect() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            received = time.time()
            for records in batches.values():
                for record in records:
                    document = orjson.loads(record.value)
                    snapshots.append(
                        (
                            received,
                            {
                                code: datetime.fromisoformat(view["last_event_time"])
                                for code, view in document["departments"].items()
                                if view["last_event_time"]
                            },
                        )
                    )

    collector = asyncio.create_task(collect())
    producer = AIOKafkaProducer(**settings.kafka_options(), acks="all", linger_ms=2)
    await producer.start()
    sent: list[tuple[str, datetime]] = []
    try:
        stream = unit_statuses(generate(registry, SEED + 1, datetime.now(UTC), rate))
        began = time.monotonic()
        while len(sent) < count:
            due = min(int((time.monotonic() - began) * rate) + 1, count)
            for message in itertools.islice(stream, due - len(sent)):
                # Event time = send time: the simulated clock is started anew per message.
                now = datetime.now(UTC)
                data = message_data(message)
                data["observed_at"] = now.isoformat()
                value = orjson.dumps(
                    {
                        "specversion": "1.0",
                        "id": f"latency-{len(sent)}",
                        "source": "/bench/latency",
                        "type": "fi.pelastus.unit-status.v1",
                        "time": now.isoformat(),
                        "data": data,
                    }
                )
                await producer.send(message.topic, value, message.key, partition=0)
                sent.append((data["department"], now))
            await asyncio.sleep(0.005)
        await producer.flush()
        # Until every department's last message shows: departments' partitions are read in
        # batches of their own, so the last one sent need not be the last one shown.
        last_sent = dict(sent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            _covers(snapshots, last) for last in last_sent.items()
        ):
            await asyncio.sleep(0.1)
    finally:
        collector.cancel()
        await producer.stop()
        await consumer.stop()
    latencies = []
    for department, when in sent:
        shown = next(
            (
                r
                for r, last in snapshots
                if last.get(department, datetime.min.replace(tzinfo=UTC)) >= when
            ),
            None,
        )
        if shown is not None:
            latencies.append(shown - when.timestamp())
    return latencies


def _covers(snapshots: list[tuple[float, dict[str, datetime]]], sent: tuple[str, datetime]) -> bool:
    department, when = sent
    return any(last.get(department) and last[department] >= when for _, last in snapshots)


@dataclass(frozen=True)
class LatencyPhase:
    latencies: list[float]
    sent: int
    # The worker's peak RSS over the backlog and the steady load.
    rss_bytes: int
    # The worker's CPU in the steady phase, snapshots and all, per message sent in it.
    cpu_us_per_record: float


def production_worker(
    settings: HubSettings,
    registry: Registry,
    args: argparse.Namespace,
    connection: dict[str, str],
    backlog: Positions,
) -> LatencyPhase:
    """Latency, peak RSS and CPU of `pelastus-hub worker` in a child process; `connection`
    are its PELASTUS_HUB_* connection variables beyond this process's own. Its group starts
    where the last backlog begins: it consumes that backlog first."""
    group = f"bench-worker-{time.time_ns()}"
    asyncio.run(start_group_at(settings, group, backlog))
    RUN_DIR.mkdir(exist_ok=True)
    env = worker_env(settings, connection, group, args.snapshot_interval)
    worker = WorkerProcess(env, RUN_DIR / "bench-worker.log", free_ports(1)[0])
    sent = int(args.latency_rate * args.latency_seconds)
    try:
        worker.start()
        pid = worker.process.pid
        say(f"worker process {pid}: consuming the backlog of {args.messages} messages")
        while consumed(worker) < args.messages:
            time.sleep(0.5)
        say(f"worker process: steady {args.latency_rate:g} msgs/s for {args.latency_seconds:g} s")
        cpu_before = cpu_seconds(pid)
        latencies = asyncio.run(
            latency(settings, registry, args.latency_rate, args.latency_seconds)
        )
        cpu = cpu_seconds(pid) - cpu_before
        rss = peak_rss_bytes(pid)
    finally:
        if worker.process is not None:
            worker.stop()
    return LatencyPhase(latencies, sent, rss, cpu * 1e6 / sent)
