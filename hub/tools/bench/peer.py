"""Pipeline (q), the Quix Streams peer, in a child process on the python of its own venv."""

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import RUN_DIR
from pelastus_hub.tools.bench.figures import Measurement
from pelastus_hub.tools.bench.quix_venv import QuixUnavailable

SCRIPT = Path(__file__).with_name("quix_pipeline.py")
# The hub's package folder, whose contract the peer loads.
PACKAGE_DIR = Path(__file__).resolve().parents[2]
# The slowest rate the peer may take before it is given up: far below any it has shown.
SLOWEST_RATE = 500.0


def quix_connection(settings: HubSettings) -> dict[str, Any]:
    """The hub's connection settings as Quix's ConnectionConfig (librdkafka's) fields."""
    connection: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.tls and settings.ssl_cafile:
        connection["ssl_ca_location"] = str(settings.ssl_cafile)
    if login := settings.login():
        connection["sasl_mechanism"] = settings.sasl_mechanism
        connection["sasl_username"], connection["sasl_password"] = login
    return connection


def run_quix(
    python: Path, settings: HubSettings, topics: list[str], count: int, group: str
) -> Measurement:
    """The peer's own report of its run; QuixUnavailable if it fails, its output in
    .run/bench-quix.log."""
    RUN_DIR.mkdir(exist_ok=True)
    log = RUN_DIR / "bench-quix.log"
    timeout = 120 + count / SLOWEST_RATE
    with tempfile.TemporaryDirectory(prefix="bench-quix-state-") as state_dir, log.open("w") as err:
        command = [str(python), str(SCRIPT), "--package-dir", str(PACKAGE_DIR)]
        command += ["--group", group, "--count", str(count), "--state-dir", state_dir, *topics]
        try:
            done = subprocess.run(
                command,
                input=json.dumps(quix_connection(settings)),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise QuixUnavailable(
                f"the peer did not finish within {timeout:.0f} s; see {log}"
            ) from None
    if done.returncode != 0:
        raise QuixUnavailable(f"the peer exited with code {done.returncode}; see {log}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(
        report["count"], report["seconds"], report["cpu_seconds"], began=report["began"]
    )
