"""`pelastus-hub bench`: the hub's worker against reference pipelines, in one run, on one broker.

Pipelines, each reading the same N pre-produced simulated messages with a consumer
group of its own, in this process:
  (a) aiokafka getmany batches + the same pydantic models + latest state per unit
      in a dict: the practical limit of Python on this machine;
  (b) a plain Faust agent doing the same work per event: what Faust alone gives;
  (c) the hub's worker (hub.app.create_app) as it runs in production: outcomes,
      dead letters and feedback, state changelog, commits, metrics.
Throughput is counted from the first record received to the last one processed,
so that group joins and start-up do not count. Machines here are noisy: read
the ratios c/a and c/b, which come from one run, rather than the absolute rates.

Then the production worker (`pelastus-hub worker`, a child process logging to
.run/bench-worker.log) consumes the same backlog and a steady load, for the latency
from produce to a published snapshot and the worker's peak RSS.
"""

import argparse
import asyncio
import itertools
import os
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from pelastus_hub.contract import topics
from pelastus_hub.contract.envelope import UnitStatusEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.picture.kpi import nearest_rank
from pelastus_hub.runtime import topic_admin
from pelastus_hub.runtime.app import FAUST_DATADIR, create_app
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import RUN_DIR
from pelastus_hub.tools.localkafka import LocalKafka, kafka_version
from pelastus_hub.tools.ports import free_ports
from pelastus_hub.tools.simulate import Message, generate, message_data
from pelastus_hub.tools.worker_metrics import read_samples, totals
from pelastus_hub.tools.worker_process import WorkerProcess

SEED = 2026
# The load: mostly valid traffic, with the bad input a real exchange sees.
SHARES = {
    "invalid_share": 0.01,
    "duplicate_share": 0.01,
    "out_of_order_share": 0.01,
    "binary_share": 0.02,
}
TARGETS = {"c/a": 0.35, "c/b": 3.0}


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Clock:
    """First record received and last record processed, for one pipeline."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.Event()

    def received(self) -> None:
        if not self.first:
            self.first = time.perf_counter()

    def processed(self, count: int) -> None:
        self.count += count
        if self.count >= self.expected:
            self.last = time.perf_counter()
            self.done.set()

    @property
    def rate(self) -> float:
        return self.count / (self.last - self.first)


def unit_statuses(messages: Iterable[Message]) -> Iterator[Message]:
    """The unit-status part of simulated traffic: what the reference pipelines compare on."""
    return (m for m in messages if m.family == "unit-status")


def keep_latest(latest: dict[str, Any], raw: bytes) -> None:
    """The reference pipelines' work per record: validate, keep the newest per unit."""
    try:
        event = UnitStatusEvent.model_validate_json(raw)
    except ValidationError:
        return
    data = event.data
    key = f"{data.department}/{data.unit_id}"
    current = latest.get(key)
    if current is None or data.observed_at > current.observed_at:
        latest[key] = data


async def reference_getmany(settings: HubSettings, input_topics: list[str], count: int) -> Clock:
    clock, latest = Clock(count), {}
    consumer = AIOKafkaConsumer(
        *input_topics,
        **settings.kafka_options(),
        group_id=f"bench-a-{time.time_ns()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not clock.done.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=settings.batch_max_records)
            for records in batches.values():
                clock.received()
                for record in records:
                    if record.value is not None:
                        keep_latest(latest, record.value)
                clock.processed(len(records))
    finally:
        await consumer.stop()
    return clock


async def reference_faust_agent(
    settings: HubSettings, input_topics: list[str], count: int
) -> Clock:
    clock, latest = Clock(count), {}
    app = faust.App(
        f"bench-b-{time.time_ns()}",
        broker=f"kafka://{settings.bootstrap_servers}",
        web_enabled=False,
        store="memory://",
        datadir=FAUST_DATADIR,
        topic_disable_leader=True,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(*input_topics, value_serializer="raw", key_serializer="raw")

    @app.agent(source)
    async def newcomer(stream: faust.StreamT) -> None:
        async for value in stream:
            clock.received()
            if value is not None:
                keep_latest(latest, value)
            clock.processed(1)

    return await _run_app_until_done(app, clock)


async def _run_app_until_done(app: faust.App, clock: Clock) -> Clock:
    await app.start()
    try:
        await clock.done.wait()
    finally:
        await app.stop()
    return clock


async def hub_worker(settings: HubSettings, count: int) -> Clock:
    clock = Clock(count)
    app, worker = create_app(settings)
    handle_batch = worker.handle_batch

    async def timed(batches: Any) -> Any:  # instrumentation only: the worker's own code runs
        clock.received()
        result = await handle_batch(batches)
        clock.processed(result.consumed)
        return result

    worker.handle_batch = timed  # type: ignore[method-assign]
    return await _run_app_until_done(app, clock)


async def produce(
    settings: HubSettings, messages: list[Message], partition: int | None = None
) -> None:
    producer = AIOKafkaProducer(
        **settings.kafka_options(), acks="all", linger_ms=20, max_batch_size=262144
    )
    await producer.start()
    try:
        pending = []
        for i, message in enumerate(messages, 1):
            pending.append(
                await producer.send(
                    message.topic,
                    message.value,
                    message.key,
                    partition=partition,
                    headers=list(message.headers),
                )
            )
            if i % 20000 == 0:
                await asyncio.gather(*pending)
                pending.clear()
                say(f"  produced {i} of {len(messages)}")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def throughput(settings: HubSettings, registry: Registry, count: int) -> dict[str, float]:
    await topic_admin.create_hub_topics(settings, registry.codes, FAMILIES)
    start = datetime.now(UTC) - timedelta(hours=2)
    messages = list(
        itertools.islice(unit_statuses(generate(registry, SEED, start, 1000.0, **SHARES)), count)
    )
    say(f"producing {count} simulated messages (seed {SEED}, {SHARES})")
    await produce(settings, messages)
    input_topics = sorted(registry.input_topics("unit-status"))
    rates = {}
    for name, run in (
        ("a", lambda: reference_getmany(settings, input_topics, count)),
        ("b", lambda: reference_faust_agent(settings, input_topics, count)),
        (
            "c",
            lambda: hub_worker(
                settings.model_copy(update={"group_id": f"bench-c-{time.time_ns()}"}), count
            ),
        ),
    ):
        say(f"pipeline ({name}) ...")
        clock = await run()
        rates[name] = clock.rate
        say(f"pipeline ({name}): {clock.rate:,.0f} msgs/s")
    return rates


async def latency(
    settings: HubSettings, registry: Registry, rate: float, seconds: float
) -> list[float]:
    """Seconds from produce to the first snapshot whose department last_event_time covers it.

    Each department's messages go to partition 0 of its topic and carry the send
    time as event time, so a snapshot showing a department's event time t has
    processed every message of that department sent up to t.
    """
    count = int(rate * seconds)
    consumer = AIOKafkaConsumer(
        topics.CAPABILITY, **settings.kafka_options(), auto_offset_reset="latest"
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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _covers(snapshots, sent[-1]):
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


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc status")


def _consumed(url: str) -> float:
    return sum(totals(read_samples(url), "pelastus_hub_records_total").values())


def production_worker(
    settings: HubSettings, registry: Registry, args: argparse.Namespace
) -> tuple[list[float], int]:
    """Latency and peak RSS of `pelastus-hub worker` in a child process."""
    env = {
        **os.environ,
        "PELASTUS_HUB_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "PELASTUS_HUB_GROUP_ID": f"bench-worker-{time.time_ns()}",
        "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS": str(args.snapshot_interval),
        "PELASTUS_HUB_LOG_LEVEL": "warning",
    }
    RUN_DIR.mkdir(exist_ok=True)
    worker = WorkerProcess(env, RUN_DIR / "bench-worker.log", free_ports(1)[0])
    try:
        worker.start()
        pid = worker.process.pid
        say(f"worker process {pid}: consuming the backlog of {args.messages} messages")
        while _consumed(worker.url) < args.messages:
            time.sleep(0.5)
        say(f"worker process: steady {args.latency_rate:g} msgs/s for {args.latency_seconds:g} s")
        latencies = asyncio.run(
            latency(settings, registry, args.latency_rate, args.latency_seconds)
        )
        rss = peak_rss_bytes(pid)
    finally:
        if worker.process is not None:
            worker.stop()
    return latencies, rss


def report(
    rates: dict[str, float], latencies: list[float], sent: int, rss: int, args: argparse.Namespace
) -> None:
    ratios = {"c/a": rates["c"] / rates["a"], "c/b": rates["c"] / rates["b"]}
    print(f"pelastus-hub bench: {args.messages} messages per pipeline, Kafka {kafka_version()}")
    print(f"  (a) aiokafka getmany + validation + latest per unit  {rates['a']:>10,.0f} msgs/s")
    print(f"  (b) plain Faust agent, same work                     {rates['b']:>10,.0f} msgs/s")
    print(f"  (c) hub worker, full pipeline                        {rates['c']:>10,.0f} msgs/s")
    for name, value in ratios.items():
        verdict = "meets" if value >= TARGETS[name] else "BELOW"
        print(f"  {name} = {value:.2f}   ({verdict} the target {TARGETS[name]:g})")
    if latencies:
        print(
            f"  latency, produce to published snapshot, at {args.latency_rate:g} msgs/s with snapshots every "
            f"{args.snapshot_interval:g} s: p50 {nearest_rank(latencies, 0.5):.3f} s, "
            f"p99 {nearest_rank(latencies, 0.99):.3f} s ({len(latencies)} of {sent} messages seen)"
        )
    else:
        print("  latency: no message was seen in a snapshot")
    print(f"  worker peak RSS: {rss / 2**20:.0f} MiB")


def run_bench(args: argparse.Namespace) -> int:
    settings = HubSettings()
    registry = Registry.load(settings.schemas_dir)
    kafka = None
    try:
        if args.bootstrap_servers:
            settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap_servers})
        else:
            kafka = LocalKafka(progress=say)
            settings = settings.model_copy(update={"bootstrap_servers": kafka.start()})
        rates = asyncio.run(throughput(settings, registry, args.messages))
        latencies, rss = production_worker(settings, registry, args)
        report(rates, latencies, int(args.latency_rate * args.latency_seconds), rss, args)
        return 0
    finally:
        if kafka is not None:
            kafka.stop()
