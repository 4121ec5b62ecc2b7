"""A hub worker in a child process, as operators run it: `python -m pelastus_hub.cli worker`,
configured by its environment, its web API on a port of its own, its output in a log file."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pelastus_hub.settings import read_secret

READY_TIMEOUT_SECONDS = 120.0
# A worker ends within seconds of SIGTERM; SIGKILL is for one that hangs.
STOP_GRACE_SECONDS = 60.0


def stop_child(process: subprocess.Popen[bytes], grace: float) -> bool:
    """Ends a child with SIGTERM, or with SIGKILL if it has not ended within `grace` seconds;
    False if it had to be killed."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
    return True


class WorkerProcess:
    """One worker; start() again restarts it once it has ended."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        port: int,
        host: str = "127.0.0.1",
        **popen: Any,
    ) -> None:
        """`env` is its whole environment, PELASTUS_HUB_WEB_PORT aside; `popen` are further
        subprocess.Popen arguments."""
        self.env = {**env, "PELASTUS_HUB_WEB_PORT": str(port)}
        self.log_path = log_path
        self.url = f"http://{host}:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._popen = popen

    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Starts it and waits until its /readyz says ready."""
        # A restart adds to the log of the runs before it.
        with self.log_path.open("ab" if self.process else "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pelastus_hub.cli", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._popen,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with code {self.process.returncode} before ready; "
                    f"see {self.log_path}"
                )
            try:
                readyz = urllib.request.Request(
                    f"{self.url}/readyz", headers=self.headers("health")
                )
                with urllib.request.urlopen(readyz, timeout=2) as response:
                    if json.load(response).get("ready"):
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the worker was not ready within {timeout:.0f} s; see {self.log_path}")

    def headers(self, group: str) -> dict[str, str]:
        """What the worker's routes of group (api, metrics or health) ask for: the group's
        token in the worker's environment, if it has one (PELASTUS_HUB_<GROUP>_TOKEN, or
        the file PELASTUS_HUB_<GROUP>_TOKEN_FILE)."""
        variable = f"PELASTUS_HUB_{group.upper()}_TOKEN"
        token = self.env.get(variable)
        if not token and (path := self.env.get(f"{variable}_FILE")):
            token = read_secret(Path(path))
        return {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int:
        """Stops it as stop_child() does; its exit code."""
        assert self.process is not None
        stop_child(self.process, grace)
        return self.process.returncode
