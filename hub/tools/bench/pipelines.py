"""Throughput: the reference pipelines and the hub's worker, one after another in this
process, each reading the same backlog of simulated messages with a consumer group of its own."""

import asyncio
import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.envelope import UnitStatusEvent
from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime import topic_admin
from pelastus_hub.runtime.app import FAUST_DATADIR, broker_credentials, create_app
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.simulator import Message, generate

SEED = 2026
# The load: mostly valid traffic, with the bad input a real exchange sees.
SHARES = {
    "invalid_share": 0.01,
    "duplicate_share": 0.01,
    "out_of_order_share": 0.01,
    "binary_share": 0.02,
}


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
        broker_credentials=broker_credentials(settings),
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

    async def timed(batches: Any, fetched_in: int | None = None) -> Any:
        # Instrumentation only: the worker's own code runs. A batch dropped for a
        # rebalance (None) is read again and counted then.
        clock.received()
        result = await handle_batch(batches, fetched_in)
        if result is not None:
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
    await topic_admin.create_hub_topics(
        settings, registry.codes, FAMILIES, KafkaClients.from_settings(settings)
    )
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
