"""Throughput in interleaved rounds: each round produces a backlog of its own, then runs every
pipeline on it once, each with a new consumer group started where the backlog begins, in an
order that turns by one pipeline each round. A warm-up round, not measured, comes first."""

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from pelastus_hub.runtime import collector
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.bench import pipelines
from pelastus_hub.tools.bench.backlog import Backlogs, end_offsets, produce, say, start_group_at
from pelastus_hub.tools.bench.broker_cpu import BrokerCpu
from pelastus_hub.tools.bench.figures import Measurement, Round, interleaved
from pelastus_hub.tools.bench.peer import run_quix
from pelastus_hub.tools.bench.quix_venv import QuixUnavailable

# The warm-up round's backlog, at most. On a new broker the first transactions create the
# transaction state log (50 partitions) and run code the JVM has yet to compile: in two runs
# without a warm-up, the broker took 19 and 44 µs of CPU a record in the worker's first
# round, against 6 to 15 in its later ones, and the worker waited.
WARM_UP_MESSAGES = 20_000


class Rounds:
    def __init__(
        self,
        settings: HubSettings,
        backlogs: Backlogs,
        unit_status_topics: list[str],
        input_topics: Sequence[str],
        quix: Path | None,
        broker_pid: int | None = None,
    ) -> None:
        """`input_topics`: all the worker reads, whose groups start at the backlog's start in
        every one of them; `quix` the peer venv's python, None to run without it;
        `broker_pid` the broker's process, to measure its CPU too (None: not measured)."""
        self.settings = settings
        self.backlogs = backlogs
        self.topics = unit_status_topics
        self.input_topics = input_topics
        self.quix = quix
        self.broker_pid = broker_pid
        # Why the peer stopped running, once it failed.
        self.quix_missing: str | None = None

    def run(self, pipeline_names: Sequence[str], rounds: int) -> list[Round]:
        """The measured rounds; backlog 0 is the warm-up's, the rounds' are 1 to `rounds`."""
        # The worker sets the collector so in its process (pelastus_hub.runtime.collector); the
        # in-process pipelines all run with it set so, whichever of them runs first.
        collector.settle()
        warm_up = min(WARM_UP_MESSAGES, self.backlogs.count)
        say(f"warm-up, not measured: {', '.join(pipeline_names)} on {warm_up} messages")
        self._round(0, list(pipeline_names), warm_up)
        measured = []
        for index in range(rounds):
            order = interleaved(pipeline_names, index)
            say(f"round {index + 1} of {rounds}: {', '.join(order)}")
            measured.append(self._round(index + 1, order))
        return measured

    def _round(self, backlog: int, order: list[str], count: int | None = None) -> Round:
        messages = self.backlogs.messages(backlog, count)
        start = asyncio.run(end_offsets(self.settings, self.input_topics))
        say(f"  producing {len(messages)} simulated messages")
        asyncio.run(produce(self.settings, messages))
        measured = {}
        for name in order:
            if name == "q" and self.quix_missing:
                continue
            group = f"bench-{name}-{time.time_ns()}"
            asyncio.run(start_group_at(self.settings, group, start))
            say(f"  pipeline ({name}) ...")
            try:
                result = self._run(name, group, len(messages))
            except QuixUnavailable as error:
                self.quix_missing = str(error)
                say(f"  pipeline (q) is missing from here on: {error}")
                continue
            measured[name] = result
            broker = result.broker_us_per_record
            say(
                f"  pipeline ({name}): {result.rate:,.0f} msgs/s, "
                f"{result.cpu_us_per_record:.1f} µs CPU/record"
                + (f", broker {broker:.1f} µs CPU/record" if broker is not None else "")
            )
        return measured

    def _run(self, name: str, group: str, count: int) -> Measurement:
        if self.broker_pid is None:
            return self._runner(name)(group, count)
        with BrokerCpu(self.broker_pid) as broker:
            result = self._runner(name)(group, count)
        cpu = broker.between(result.began, result.began + result.seconds)
        return replace(result, broker_cpu_seconds=cpu)

    def _runner(self, name: str) -> Callable[[str, int], Measurement]:
        settings, topics = self.settings, self.topics
        if name == "a":
            return lambda g, n: asyncio.run(pipelines.reference_getmany(settings, topics, n, g))
        if name == "b":
            return lambda g, n: asyncio.run(pipelines.reference_faust_agent(settings, topics, n, g))
        if name == "c":
            return lambda g, n: asyncio.run(pipelines.hub_worker(settings, n, g))
        assert name == "q" and self.quix is not None
        quix = self.quix
        return lambda g, n: run_quix(quix, settings, topics, n, g)
