"""Scale-out: 1, then 2 `pelastus-hub worker` child processes in one consumer group, each time
on a backlog of its own spread over every department, so every partition has records.

The workers join and share out the partitions before the backlog exists: it is produced in
one transaction, which they (reading committed records only) see all at once when it
commits. A rebalance as the second worker joins is so not part of the measurement.
"""

import asyncio
import time
from collections.abc import Sequence

from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import RUN_DIR
from pelastus_hub.tools.bench.backlog import (
    Backlogs,
    Positions,
    end_offsets,
    produce,
    say,
    start_group_at,
)
from pelastus_hub.tools.bench.figures import Measurement
from pelastus_hub.tools.bench.workers import consumed, cpu_seconds, partitions_assigned, worker_env
from pelastus_hub.tools.ports import free_ports
from pelastus_hub.tools.worker_process import WorkerProcess

WORKERS = (1, 2)
# How often the workers' counts are read: each read costs them a little CPU.
POLL_SECONDS = 0.1
ASSIGNMENT_TIMEOUT_SECONDS = 120.0


def scale_out(
    settings: HubSettings,
    backlogs: Backlogs,
    first_backlog: int,
    input_topics: Sequence[str],
    connection: dict[str, str],
    snapshot_interval: float,
) -> tuple[dict[int, Measurement], Positions]:
    """Each run's measurement by its number of workers, and where the last run's backlog
    begins."""
    runs = {}
    RUN_DIR.mkdir(exist_ok=True)  # the workers' logs; a fresh checkout has no .run yet
    for index, workers in enumerate(WORKERS, first_backlog):
        messages = backlogs.messages(index)
        start = asyncio.run(end_offsets(settings, input_topics))
        group = f"bench-scale-{workers}-{time.time_ns()}"
        asyncio.run(start_group_at(settings, group, start))
        env = worker_env(settings, connection, group, snapshot_interval)
        ports = free_ports(workers)
        processes = [
            WorkerProcess(env, RUN_DIR / f"bench-scale-{workers}-{i}.log", port)
            for i, port in enumerate(ports)
        ]
        try:
            for process in processes:
                process.start()
            _wait_for_assignment(processes, len(start))
            say(f"scale-out, {workers} worker(s): producing {len(messages)} in one transaction")
            asyncio.run(produce(settings, messages, transactional_id=group))
            # Measured from here: the transaction has committed.
            runs[workers] = _measure(processes, len(messages))
        finally:
            for process in processes:
                if process.process is not None:
                    process.stop()
        say(
            f"scale-out, {workers} worker(s): {runs[workers].rate:,.0f} msgs/s, "
            f"{runs[workers].cpu_us_per_record:.1f} µs CPU/record"
        )
    return runs, start


def _wait_for_assignment(processes: list[WorkerProcess], partitions: int) -> None:
    """Until every worker has partitions and together they have all of them."""
    deadline = time.monotonic() + ASSIGNMENT_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assigned = [partitions_assigned(process) for process in processes]
        if all(assigned) and sum(assigned) == partitions:
            return
        time.sleep(POLL_SECONDS)
    raise RuntimeError(
        f"the workers did not share out the {partitions} partitions within "
        f"{ASSIGNMENT_TIMEOUT_SECONDS:.0f} s; see {RUN_DIR}/bench-scale-*.log"
    )


def _measure(processes: list[WorkerProcess], count: int) -> Measurement:
    """From the commit that showed the workers the backlog (just before this is called) to
    their last record, found between two reads of their counts and placed in between by the
    counts (and so the CPU time too)."""
    pids = [process.process.pid for process in processes if process.process is not None]
    before = (time.perf_counter(), 0, sum(cpu_seconds(pid) for pid in pids))
    start = before
    while True:
        time.sleep(POLL_SECONDS)
        now = time.perf_counter()
        done = sum(consumed(process) for process in processes)
        cpu = sum(cpu_seconds(pid) for pid in pids)
        if done >= count:
            share = (count - before[1]) / (done - before[1])
            seconds = before[0] + share * (now - before[0]) - start[0]
            cpu_used = before[2] + share * (cpu - before[2]) - start[2]
            return Measurement(count, seconds, cpu_used)
        before = (now, done, cpu)
