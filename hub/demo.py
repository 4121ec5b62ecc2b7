"""`pelastus-hub run`: a local broker, one worker and simulated traffic, until Ctrl-C.

The worker and the simulator run as child processes, exactly as an operator
would run them, with the broker's address in their environment. Their logs go
to files under .run/; the terminal gets a status line from the hub's own API.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hub.localkafka import LocalKafka, LocalKafkaError
from hub.settings import REPO_ROOT, HubSettings

READY_TIMEOUT_SECONDS = 120.0
STATUS_EVERY_SECONDS = 10.0
LOG_DIR = REPO_ROOT / ".run"


def _say(line: str) -> None:
    print(f"[pelastus-hub] {line}", file=sys.stderr, flush=True)


def wait_ready(base_url: str, worker: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode} before ready")
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                if json.load(response).get("ready"):
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the worker was not ready within {timeout:.0f} s")


def status_line(base_url: str) -> str:
    """What the hub publishes now, as an operator would read it off the API."""
    try:
        with urllib.request.urlopen(f"{base_url}/api/v1/capability", timeout=2) as response:
            snapshot = json.load(response)
        with urllib.request.urlopen(f"{base_url}/metrics", timeout=2) as response:
            metrics = response.read().decode().splitlines()
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return f"no snapshot yet ({error})"
    outcomes: dict[str, float] = {}
    for line in metrics:
        if line.startswith("pelastus_hub_records_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            outcomes[outcome] = outcomes.get(outcome, 0) + float(line.rsplit(" ", 1)[1])
    national = snapshot["national"]
    reporting = sum(1 for view in snapshot["departments"].values() if view["units"])
    counted = ", ".join(f"{name} {count:.0f}" for name, count in sorted(outcomes.items()))
    ready = national["readiness"]
    return (
        f"snapshot {snapshot['sequence']}: {national['units']} units from {reporting} departments, "
        f"{national['available']} available, {national['committed']} committed, strain "
        f"{national['strain']}; {national['incidents']['open']} open incidents; "
        f"{ready['firefighters'] + ready['officers'] + ready['ems']} on duty and "
        f"{ready['volunteers_available']} volunteers at {ready['stations']} stations; "
        f"records: {counted}"
    )


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    # Its own process group: Ctrl-C reaches this process only, which then stops
    # the children in order (simulator, worker, broker).
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes] | None, name: str) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # both children shut down cleanly on SIGINT
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        _say(f"{name} did not stop in 30 s; killing it")
        process.kill()
        process.wait()


def run_demo(args: argparse.Namespace) -> int:
    settings = HubSettings()
    kafka = LocalKafka(progress=_say)
    worker = simulator = None
    try:
        _say("starting the local Kafka broker")
        bootstrap = kafka.start()
        _say(f"kafka ready at {bootstrap}")
        env = {**os.environ, "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap}
        command = [sys.executable, "-m", "hub.cli"]
        LOG_DIR.mkdir(exist_ok=True)
        worker_log, simulator_log = LOG_DIR / "demo-worker.log", LOG_DIR / "demo-simulator.log"
        worker = _start([*command, "worker"], env, worker_log)
        _say(f"worker starting (log: {worker_log})")
        base_url = f"http://{settings.web_host}:{settings.web_port}"
        wait_ready(base_url, worker, READY_TIMEOUT_SECONDS)
        simulation = [
            "simulate",
            f"--seed={args.seed}",
            f"--rate={args.rate}",
            f"--invalid-share={args.invalid_share}",
            f"--duplicate-share={args.duplicate_share}",
            f"--out-of-order-share={args.out_of_order_share}",
            f"--binary-share={args.binary_share}",
        ]
        if args.count is not None:
            simulation.append(f"--count={args.count}")
        simulator = _start([*command, *simulation], env, simulator_log)
        _say(
            "the hub is running; look at\n"
            f"    {base_url}/api/v1/capability        national capability (JSON)\n"
            f"    {base_url}/api/v1/capability/pirkanmaa\n"
            f"    {base_url}/api/v1/kpi?department=pirkanmaa&window=hour   response times\n"
            f"    {base_url}/metrics                  Prometheus metrics\n"
            f"    {base_url}/readyz\n"
            f"  kafka at {bootstrap}; topics national.capability, national.kpi, hub.dead-letter,"
            " feedback.<code>\n"
            f"  simulator log: {simulator_log}\n"
            + (
                "  Ctrl-C stops it all"
                if args.duration is None
                else f"  stopping after {args.duration:g} s (Ctrl-C stops it sooner)"
            )
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        next_status = time.monotonic() + STATUS_EVERY_SECONDS
        while deadline is None or time.monotonic() < deadline:
            if worker.poll() is not None:
                _say(f"the worker exited with code {worker.returncode}; see {worker_log}")
                return 1
            if time.monotonic() >= next_status:
                _say(status_line(base_url))
                next_status += STATUS_EVERY_SECONDS
            time.sleep(0.5)
        _say(status_line(base_url))
        return 0
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    except (LocalKafkaError, RuntimeError) as error:
        _say(f"error: {error}")
        return 1
    finally:
        # Stopping now: a second Ctrl-C must not cut this short and leave the broker running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(simulator, "the simulator")
        _stop(worker, "the worker")
        kafka.stop()
        _say("stopped")
