"""A hub worker run as operators run it: `python -m pelastus_hub.cli worker` in a child process."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pelastus_hub.tools.demo import wait_ready

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    def __init__(self, bootstrap: str, log_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap,
            "PELASTUS_HUB_WEB_PORT": str(self.port),
            "PELASTUS_HUB_SNAPSHOT_INTERVAL_SECONDS": "0.5",
            "PELASTUS_HUB_LOG_LEVEL": "warning",
            **{f"PELASTUS_HUB_{name.upper()}": value for name, value in settings.items()},
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pelastus_hub.cli", "worker"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(self.url, self.process, timeout)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; log:\n{self.log_path.read_text()[-4000:]}") from None

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, path: str) -> tuple[int, dict]:
        status, body = self.get(path)
        return status, json.loads(body)

    def counter(self, name: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
        """A counter's values summed by the labels named in `by`."""
        _, body = self.get("/metrics")
        totals: dict[tuple[str, ...], float] = {}
        for line in body.decode().splitlines():
            if line.startswith(name + "{"):
                labels, value = line[len(name) + 1 :].split("} ")
                parts = dict(item.split("=", 1) for item in labels.split(","))
                key = tuple(parts[label].strip('"') for label in by)
            elif line.startswith(name + " "):  # a counter without labels
                key, value = (), line.split(" ")[1]
            else:
                continue
            if float(value):
                totals[key] = totals.get(key, 0) + float(value)
        return totals

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
