"""`pelastus-hub worker` child processes for the bench: their environment, and what the bench
reads of them (records consumed, assignment, process CPU time, peak memory)."""

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.worker_process import WorkerProcess

# Clock ticks of /proc/<pid>/stat's CPU times.
TICKS = os.sysconf("SC_CLK_TCK")


def worker_env(
    settings: HubSettings, connection: dict[str, str], group: str, snapshot_interval: float
) -> dict[str, str]:
    """A worker's whole environment; `connection` are its PELASTUS_HUB_* connection
    variables beyond this process's own."""
    return {
        **os.environ,
        "PELASTUS_HUB_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        **connection,
        "PELASTUS_HUB_GROUP_ID": group,
        "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS": str(snapshot_interval),
        "PELASTUS_HUB_LOG_LEVEL": "warning",
    }


def _get(worker: WorkerProcess, path: str, group: str) -> Any:
    request = urllib.request.Request(f"{worker.url}{path}", headers=worker.headers(group))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # /readyz answers 503 while not ready
        with error:
            return json.load(error)


def consumed(worker: WorkerProcess) -> int:
    """Records the worker has consumed since it started (its /api/v1/accounting: lighter to
    read, for the worker too, than its /metrics)."""
    accounting = _get(worker, "/api/v1/accounting", "api")
    return sum(partition["consumed"] for partition in accounting["partitions"])


def partitions_assigned(worker: WorkerProcess) -> int:
    return int(_get(worker, "/readyz", "health").get("partitions_assigned", 0))


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time, all its threads."""
    # The fields after the command name, which may hold spaces: utime and stime are 14, 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc status")
