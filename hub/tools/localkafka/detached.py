"""A broker that outlives the command that started it, known by a state file:
`pelastus-hub kafka start|stop|status`."""

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pelastus_hub.tools.localkafka.broker import LocalKafka, answers_metadata, stop_group
from pelastus_hub.tools.localkafka.jars import LocalKafkaError, kafka_version


def _broker_alive(state: dict) -> bool:
    # The command line must name this run's data folder: after a reboot the pid may be
    # another program's. An exited but unreaped broker shows as "<defunct>", so is gone.
    # -ww: else ps cuts the line at the terminal's width, often before the folder.
    ps = ["ps", "-ww", "-o", "args=", "-p", str(state["pid"])]
    return state["data_dir"] in subprocess.run(ps, capture_output=True, text=True).stdout


def _read_state(state_file: Path) -> dict | None:
    return json.loads(state_file.read_text()) if state_file.exists() else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def status_detached(state_file: Path) -> dict | None:
    """The detached broker's state plus whether it answers metadata; None if not running.

    A broker stopped with its data kept (stop_detached(keep_data=True)) is returned as its
    state with "stopped_at" set, pid None and no "responding".
    """
    state = _read_state(state_file)
    if state is None or "stopped_at" in state:
        return state
    if not _broker_alive(state):
        return None
    admin = LocalKafka(data_dir=Path(state["data_dir"])).settings()
    return {**state, "responding": asyncio.run(answers_metadata(admin))}


def start_detached(state_file: Path, timeout: float = 120.0, **options) -> dict:
    """Start a broker that outlives this process; options go to LocalKafka.

    A broker stopped with its data kept restarts on that data folder and its ports.
    """
    current = status_detached(state_file)
    if current is not None and "stopped_at" not in current:
        where = f"{current['bootstrap_servers']} (pid {current['pid']})"
        raise LocalKafkaError(f"kafka is already running at {where}")
    kept = Path(current["data_dir"]) if current else None
    kafka = LocalKafka(**options, keep_data=True, data_dir=kept)
    kafka.start(timeout)
    state = {
        "pid": kafka.pid,
        "bootstrap_servers": kafka.bootstrap_servers,
        "data_dir": str(kafka.data_dir),
        "kafka_version": kafka_version(),
        "started_at": _now(),
    }
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return state


def stop_detached(state_file: Path, keep_data: bool = False) -> bool:
    """Stop the detached broker; False if none was running.

    Its data folder and state file are deleted (also a kept, stopped broker's), unless
    keep_data: then both stay, the state marked stopped, for start_detached to restart it
    on the same data and ports.
    """
    state = _read_state(state_file)
    if state is None:
        return False
    was_running = "stopped_at" not in state and _broker_alive(state)
    if was_running:
        stop_group(state["pid"], lambda: _broker_alive(state))
    if keep_data and Path(state["data_dir"]).is_dir():
        # No pid: once stopped it may become another program's.
        state = {**state, "pid": None, "stopped_at": state.get("stopped_at") or _now()}
        state_file.write_text(json.dumps(state, indent=2) + "\n")
    else:
        shutil.rmtree(state["data_dir"], ignore_errors=True)
        state_file.unlink(missing_ok=True)
    return was_running


def _print_kept(state: dict) -> None:
    print(
        f"kafka stopped at {state['stopped_at']}, its data kept in {state['data_dir']}\n"
        f"  `pelastus-hub kafka start` restarts it at {state['bootstrap_servers']}; "
        "`pelastus-hub kafka stop` deletes it"
    )


def run_cli(action: str, state_file: Path, keep_data: bool = False, secure: bool = False) -> int:
    """`pelastus-hub kafka start|stop|status`: prints the outcome, returns the exit code.

    keep_data goes with stop: see stop_detached; secure with start, a secured broker.
    """
    try:
        if action == "stop":
            print(
                "kafka stopped" if stop_detached(state_file, keep_data) else "kafka was not running"
            )
            if keep_data and (kept := _read_state(state_file)) is not None:
                _print_kept(kept)
            return 0
        if action == "start":
            state = {**start_detached(state_file, secure=secure), "responding": True}
        elif action == "status":
            state = status_detached(state_file)
        else:
            raise ValueError(f"unknown kafka action {action!r}")
    except LocalKafkaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if state is None:
        print("kafka not running")
        return 1
    if "stopped_at" in state:
        _print_kept(state)
        return 1
    health = "" if state["responding"] else ", but NOT answering metadata requests"
    kafka = LocalKafka(data_dir=Path(state["data_dir"]))
    secured = " (secured)" if kafka.secure else ""
    print(
        f"kafka {state['kafka_version']} running at {state['bootstrap_servers']}{secured}{health}\n"
        f"  pid {state['pid']}, data dir {state['data_dir']}, started {state['started_at']}"
    )
    print("  to connect as its admin:" if kafka.secure else "  for the hub:")
    for name, value in kafka.environment().items():
        if value:
            print(f"    export {name}={value}")
    return 0 if state["responding"] else 1
