"""The in-process pipelines: (a) and (b), the references, and (c), the hub's worker. Each reads
a backlog with a consumer group of its own, already started at the backlog's first offsets."""

import asyncio
import time
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from pelastus_hub.contract.envelope import UnitStatusEvent
from pelastus_hub.runtime.app import FAUST_DATADIR, broker_credentials, create_app
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.bench.figures import Measurement


class Clock:
    """First record received to last record processed, in wall time and in this process's
    CPU time: nothing else runs in the process meanwhile, so its CPU is the pipeline's."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = self.last = 0.0
        self.cpu_first = self.cpu_last = 0.0
        self.done = asyncio.Event()

    def received(self) -> None:
        if not self.first:
            self.first, self.cpu_first = time.perf_counter(), time.process_time()

    def processed(self, count: int) -> None:
        self.count += count
        if self.count >= self.expected and not self.done.is_set():
            self.last, self.cpu_last = time.perf_counter(), time.process_time()
            self.done.set()

    def measurement(self) -> Measurement:
        seconds, cpu = self.last - self.first, self.cpu_last - self.cpu_first
        return Measurement(self.count, seconds, cpu, began=self.first)


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


async def reference_getmany(
    settings: HubSettings, topics: list[str], count: int, group: str
) -> Measurement:
    """(a): aiokafka getmany batches, the same models, the latest state per unit in a dict."""
    clock, latest = Clock(count), {}
    consumer = AIOKafkaConsumer(
        *topics,
        **settings.kafka_options(),
        group_id=group,
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
    return clock.measurement()


async def reference_faust_agent(
    settings: HubSettings, topics: list[str], count: int, group: str
) -> Measurement:
    """(b): a plain Faust agent doing (a)'s work per event; its app id is its group."""
    clock, latest = Clock(count), {}
    app = faust.App(
        group,
        broker=f"kafka://{settings.bootstrap_servers}",
        broker_credentials=broker_credentials(settings),
        web_enabled=False,
        store="memory://",
        datadir=FAUST_DATADIR,
        topic_disable_leader=True,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(*topics, value_serializer="raw", key_serializer="raw")

    @app.agent(source)
    async def newcomer(stream: faust.StreamT) -> None:
        async for value in stream:
            clock.received()
            if value is not None:
                keep_latest(latest, value)
            clock.processed(1)

    return await _run_app_until_done(app, clock)


async def _run_app_until_done(app: faust.App, clock: Clock) -> Measurement:
    await app.start()
    try:
        await clock.done.wait()
    finally:
        await app.stop()
    return clock.measurement()


async def hub_worker(settings: HubSettings, count: int, group: str) -> Measurement:
    """(c): the hub's worker as it runs in production (outcomes, dead letters and feedback,
    state changelog, commits, metrics), with the group as its group id."""
    clock = Clock(count)
    app, worker = create_app(settings.model_copy(update={"group_id": group}))
    handle_batch, finish_batch = worker.handle_batch, worker.finish_batch

    # Instrumentation only: the worker's own code runs. A batch is counted once its
    # transaction has committed; one dropped for a rebalance is read again, counted then.
    async def received(batches: Any, fetched_in: int | None = None) -> Any:
        clock.received()
        return await handle_batch(batches, fetched_in)

    async def committed(batches: Any, result: Any, *rest: Any) -> None:
        await finish_batch(batches, result, *rest)
        clock.processed(result.consumed)

    worker.handle_batch = received  # type: ignore[method-assign]
    worker.finish_batch = committed  # type: ignore[method-assign]
    return await _run_app_until_done(app, clock)
