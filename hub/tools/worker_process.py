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
                readyz = urllib.request.Request(f"{self.url}/readyz", headers=self.health_headers)
                with urllib.request.urlopen(readyz, timeout=2) as response:
                    if json.load(response).get("ready"):
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the worker was not ready within {timeout:.0f} s; see {self.log_path}")

    @property
    def health_headers(self) -> dict[str, str]:
        """What /healthz and /readyz ask for: the health token of the worker's environment,
        if it has one (PELASTUS_HUB_HEALTH_TOKEN, or the file PELASTUS_HUB_HEALTH_TOKEN_FILE)."""
        token = self.env.get("PELASTUS_HUB_HEALTH_TOKEN")
        if not token and (path := self.env.get("PELASTUS_HUB_HEALTH_TOKEN_FILE")):
            token = read_secret(Path(path))
        return {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> int:
        """Stops it as stop_child() does; its exit code."""
        assert self.process is not None
        stop_child(self.process, grace)
        return self.process.returncode
