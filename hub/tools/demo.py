"""`pelastus-hub run`: a local broker, one worker and simulated traffic, until Ctrl-C.

The worker and the simulator run as child processes, exactly as an operator
would run them, with the broker's address in their environment. Their logs go
to files under .run/; the terminal gets a status line from the hub's own API.
Ctrl-C or SIGTERM stops the simulator, the worker and the broker, in that order,
each with SIGTERM, and with SIGKILL only if it has not ended in STOP_TIMEOUT_SECONDS.
"""

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from pelastus_hub.settings import HubSettings
from pelastus_hub.tools import RUN_DIR
from pelastus_hub.tools.localkafka import LocalKafka, LocalKafkaError
from pelastus_hub.tools.worker_metrics import read_samples, totals
from pelastus_hub.tools.worker_process import WorkerProcess, stop_child

# Both children end within seconds of SIGTERM; the simulator waits at most 15 s for the
# broker to take its last messages (pelastus_hub.tools.simulator.sending.STOP_FLUSH_SECONDS).
STOP_TIMEOUT_SECONDS = 30.0
LOG_DIR = RUN_DIR


def _say(line: str) -> None:
    print(f"[pelastus-hub] {line}", file=sys.stderr, flush=True)


def status_line(worker: WorkerProcess) -> str:
    """What the hub publishes now, as an operator would read it off the API (with the
    tokens the worker was given), and the worker's memory, lag and state (the soak's
    figures)."""
    base_url, worker_pid = worker.url, worker.process.pid
    try:
        capability = urllib.request.Request(
            f"{base_url}/api/v1/capability", headers=worker.headers("api")
        )
        with urllib.request.urlopen(capability, timeout=2) as response:
            snapshot = json.load(response)
        metrics = read_samples(base_url, timeout=2, headers=worker.headers("metrics"))
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return f"no snapshot yet ({error})"
    outcomes = totals(metrics, "pelastus_hub_records_total", ("outcome",))
    waiting = sum(s.value for s in metrics if s.name == "pelastus_hub_consumer_lag_records")
    held = totals(metrics, "pelastus_hub_state_entities", ("family",))
    national = snapshot["national"]
    reporting = sum(1 for view in snapshot["departments"].values() if view["units"])
    counted = ", ".join(f"{name} {count:.0f}" for (name,), count in sorted(outcomes.items()))
    ready = national["readiness"]
    return (
        f"snapshot {snapshot['sequence']}: {national['units']} units from {reporting} departments, "
        f"{national['available']} available, {national['committed']} committed, strain "
        f"{national['strain']}; {national['incidents']['open']} open incidents; "
        f"{ready['firefighters'] + ready['officers'] + ready['ems']} on duty and "
        f"{ready['volunteers_available']} volunteers at {ready['stations']} stations; "
        f"records: {counted}; worker RSS {resident_mib(worker_pid):.0f} MiB, input lag "
        f"{waiting:.0f} records, state {', '.join(f'{n:.0f} {f}' for (f,), n in sorted(held.items()))}"
    )


def resident_mib(pid: int) -> float:
    """A process's resident memory (Linux), in MiB; 0 where /proc cannot tell."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return int(kib) / 1024


def _default_signals() -> None:
    # Runs in the child between fork and exec. A disposition of SIG_IGN survives exec,
    # and a demo started in the background by a non-interactive shell has SIGINT ignored:
    # the children must still stop on the signals the demo stops them with.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


# Each child in a session of its own: Ctrl-C reaches this process only, which then stops
# the children in order (simulator, worker, broker). Popen's restore_signals covers SIGPIPE
# and SIGXFSZ only, hence _default_signals (the demo starts no threads, so a preexec_fn
# is safe).
CHILD_OPTIONS = {"start_new_session": True, "preexec_fn": _default_signals}


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, **CHILD_OPTIONS
        )


def _stop(process: subprocess.Popen[bytes] | None, name: str) -> None:
    # Both children shut down cleanly on SIGTERM.
    if process is not None and not stop_child(process, STOP_TIMEOUT_SECONDS):
        _say(f"{name} did not stop within {STOP_TIMEOUT_SECONDS:g} s of SIGTERM; killed it")


def _summary(log: Path) -> str | None:
    """The simulator's last summary line ("done: ..." or "stopped: ...") in its log."""
    with log.open(errors="replace") as lines:
        found = [line.rstrip() for line in lines if line.startswith(("done: ", "stopped: "))]
    return found[-1] if found else None


def _stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does


class DemoRefused(RuntimeError):
    pass


def _own_run_folder(folder: Path) -> TextIO:
    """Hold the run folder for this demo alone, while the returned file stays open: a second
    demo from the same folder would overwrite this one's logs."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = (folder / "demo.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise DemoRefused(
            f"another demo runs from {folder} (pid {holder}): stop it first, or run this one "
            "from another checkout"
        ) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def _port_is_free(host: str, port: int) -> None:
    """Refuse a web port something else listens on: the demo would read its answers as its
    own worker's."""
    with socket.socket() as probe:
        # As the web server binds: a port a closed connection still waits on is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise DemoRefused(
                f"the web port {host}:{port} is taken ({error.strerror}), perhaps by another "
                "hub: set PELASTUS_HUB_WEB_PORT to a free one"
            ) from None


def run_demo(args: argparse.Namespace) -> int:
    settings = HubSettings()
    try:
        lock = _own_run_folder(LOG_DIR)
        _port_is_free(settings.web_host, settings.web_port)
    except DemoRefused as error:
        _say(f"error: {error}")
        return 1
    with lock:
        return _run(args, settings)


def _run(args: argparse.Namespace, settings: HubSettings) -> int:
    kafka = LocalKafka(progress=_say, secure=args.secure)
    worker = simulator = None
    worker_log, simulator_log = LOG_DIR / "demo-worker.log", LOG_DIR / "demo-simulator.log"
    # SIGINT keeps the disposition the demo inherited: a shell that started it in the
    # background with SIGINT ignored wants it so.
    signal.signal(signal.SIGTERM, _stop_requested)
    try:
        _say("starting the local Kafka broker")
        bootstrap = kafka.start()
        _say(f"kafka ready at {bootstrap}")
        # The demo's own broker, however the variables it inherited connect.
        env = {**os.environ, **kafka.environment(None)}
        worker_env = simulator_env = env
        credentials = []
        if args.secure:
            from pelastus_hub.contract.registry import Registry
            from pelastus_hub.tools.provision import provision
            from pelastus_hub.tools.provision.plan import HUB_USER

            secrets = kafka.data_dir / "secrets"  # the run's: gone with the broker
            admin = kafka.settings(base=settings)
            codes = Registry.load(settings.schemas_dir).codes
            began = time.monotonic()
            provision(admin, codes, secrets, progress=lambda line: None)
            _say(
                f"provisioned {len(codes)} departments' topics, users and ACLs in "
                f"{time.monotonic() - began:.1f} s; passwords in {secrets}"
            )
            hub_password = secrets / f"{HUB_USER}.password"
            worker_env = {**env, **kafka.environment(HUB_USER, hub_password)}
            credentials.append(f"--credentials-dir={secrets}")
        command = [sys.executable, "-m", "pelastus_hub.cli"]
        worker = WorkerProcess(
            worker_env, worker_log, settings.web_port, settings.web_host, **CHILD_OPTIONS
        )
        _say(f"worker starting (log: {worker_log})")
        worker.start()
        base_url = worker.url
        simulation = [
            "simulate",
            *credentials,
            f"--seed={args.seed}",
            f"--rate={args.rate}",
            f"--invalid-share={args.invalid_share}",
            f"--duplicate-share={args.duplicate_share}",
            f"--out-of-order-share={args.out_of_order_share}",
            f"--binary-share={args.binary_share}",
            f"--send-retries={args.send_retries}",
            f"--retry-backoff={args.retry_backoff}",
        ]
        if args.count is not None:
            simulation.append(f"--count={args.count}")
        simulator = _start([*command, *simulation], simulator_env, simulator_log)
        _say(
            "the hub is running; look at\n"
            f"    {base_url}/                         the national picture (a page, in a browser)\n"
            f"    {base_url}/api/v1/capability        national capability (JSON)\n"
            f"    {base_url}/api/v1/capability/pirkanmaa\n"
            f"    {base_url}/api/v1/kpi?department=pirkanmaa&window=hour   response times\n"
            f"    {base_url}/metrics                  Prometheus metrics\n"
            f"    {base_url}/readyz\n"
            + (
                "  secured: TLS, SCRAM logins, ACLs; each department sends as its own user\n"
                if args.secure
                else ""
            )
            + f"  kafka at {bootstrap}; topics national.capability, national.kpi, hub.dead-letter,"
            " feedback.<code>\n"
            f"  simulator log: {simulator_log}\n"
            + (
                "  Ctrl-C stops it all"
                if args.duration is None
                else f"  stopping after {args.duration:g} s (Ctrl-C stops it sooner)"
            )
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        every = args.status_every
        first_rss = None
        next_status = time.monotonic() + every
        process = worker.process
        while deadline is None or time.monotonic() < deadline:
            if process.poll() is not None:
                _say(f"the worker exited with code {process.returncode}; see {worker_log}")
                return 1
            if time.monotonic() >= next_status:
                _say(status_line(worker))
                first_rss = first_rss or resident_mib(process.pid)
                next_status += every
            time.sleep(0.5)
        _say(status_line(worker))
        if first_rss:
            _say(
                f"worker RSS {first_rss:.0f} MiB at the first report, "
                f"{resident_mib(process.pid):.0f} MiB at the end"
            )
        return 0
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    except (LocalKafkaError, RuntimeError) as error:
        _say(f"error: {error}")
        return 1
    finally:
        # Stopping now: a second Ctrl-C or SIGTERM must not cut this short and leave the
        # broker running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(simulator, "the simulator")
        if simulator is not None and (summary := _summary(simulator_log)):
            _say(f"simulator {summary}")
        _stop(worker.process if worker else None, "the worker")
        kafka.stop()
        _say("stopped")
