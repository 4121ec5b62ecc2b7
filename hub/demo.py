"""`pelastus-hub run`: a local broker, one worker and simulated traffic, until Ctrl-C.

The worker and the simulator run as child processes, exactly as an operator
would run them, with the broker's address in their environment.
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

from hub.localkafka import LocalKafka, LocalKafkaError
from hub.settings import HubSettings

READY_TIMEOUT_SECONDS = 120.0


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
        # Own process groups: Ctrl-C reaches this process only, which then stops
        # the children in order (simulator, worker, broker).
        worker = subprocess.Popen([*command, "worker"], env=env, start_new_session=True)
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
        simulator = subprocess.Popen([*command, *simulation], env=env, start_new_session=True)
        _say(
            "the hub is running; look at\n"
            f"    {base_url}/api/v1/capability        national capability (JSON)\n"
            f"    {base_url}/api/v1/capability/pirkanmaa\n"
            f"    {base_url}/metrics                  Prometheus metrics\n"
            f"    {base_url}/readyz\n"
            f"  kafka at {bootstrap}; topics national.capability, hub.dead-letter, feedback.<code>\n"
            + (
                "  Ctrl-C stops it all"
                if args.duration is None
                else f"  stopping after {args.duration:g} s (Ctrl-C stops it sooner)"
            )
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            if worker.poll() is not None:
                _say(f"the worker exited with code {worker.returncode}")
                return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    except (LocalKafkaError, RuntimeError) as error:
        _say(f"error: {error}")
        return 1
    finally:
        _stop(simulator, "the simulator")
        _stop(worker, "the worker")
        kafka.stop()
        _say("stopped")
