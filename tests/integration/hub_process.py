"""A hub worker run as operators run it: `python -m pelastus_hub.cli worker` in a child process."""

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from pathlib import Path

from pelastus_hub.tools import worker_metrics, worker_process
from pelastus_hub.tools.ports import free_ports

REPO = Path(__file__).resolve().parents[2]


class WorkerProcess(worker_process.WorkerProcess):
    def __init__(self, bootstrap: str, log_path: Path, **settings: str) -> None:
        env = {
            **os.environ,
            "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap,
            "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS": "0.5",
            "PELASTUS_HUB_LOG_LEVEL": "warning",
            **{f"PELASTUS_HUB_{name.upper()}": value for name, value in settings.items()},
        }
        super().__init__(env, log_path, free_ports(1)[0], cwd=REPO)

    def start(self, timeout: float = 90.0) -> None:
        try:
            super().start(timeout)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; log:\n{self.log_path.read_text()[-4000:]}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def request(
        self, path: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Message, bytes]:
        """A GET's status, response headers and body."""
        request = urllib.request.Request(self.url + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def get(self, path: str) -> tuple[int, bytes]:
        status, _, body = self.request(path)
        return status, body

    def get_json(self, path: str) -> tuple[int, dict]:
        status, body = self.get(path)
        return status, json.loads(body)

    def counter(self, name: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        """A counter's values summed by the labels named in `by`, those still 0 left out."""
        samples = worker_metrics.read_samples(self.url)
        return {
            key: value for key, value in worker_metrics.totals(samples, name, by).items() if value
        }

    def records_total(self, by: tuple[str, ...] = ("department", "outcome")) -> dict:
        """pelastus_hub_records_total by (department, outcome), or other labels."""
        return self.counter("pelastus_hub_records_total", by)

    def wait_consumed(
        self, count: int, timeout: float = 60.0, by: tuple[str, ...] = ("department", "outcome")
    ) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            totals = self.records_total(by)
            if sum(totals.values()) >= count:
                return totals
            time.sleep(0.2)
        raise AssertionError(f"consumed {sum(self.records_total().values())} of {count}")

    def wait_snapshot_after(self, sequence: int, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body = self.get_json("/api/v1/capability")
            if status == 200 and body["sequence"] > sequence:
                return body
            time.sleep(0.1)
        raise AssertionError(f"no snapshot after sequence {sequence}")
