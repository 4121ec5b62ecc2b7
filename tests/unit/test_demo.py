"""How the demo starts and stops its children, with small Python programs as children."""

import argparse
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from pelastus_hub.tools import demo

# Stops on SIGTERM, saying so, once it has said it is ready.
POLITE = """
import signal, sys, time
def stop(signum, frame):
    print("got SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
while True:
    time.sleep(1)
"""
STUBBORN = POLITE.replace(
    "signal.signal(signal.SIGTERM, stop)", "signal.signal(signal.SIGTERM, signal.SIG_IGN)"
)


def wait_for(log: Path, text: str, timeout: float = 30.0) -> None:
    """Until the child has written `text` to its log (it may not have started yet)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {log}: {log.read_text()!r}"
        time.sleep(0.02)


def test_children_start_with_the_default_stop_signals(tmp_path) -> None:
    """Even when the demo itself has them ignored, as in the background of a script."""
    show = (
        "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
        "signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    log = tmp_path / "child.log"
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = demo._start([sys.executable, "-c", show], dict(os.environ), log)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert child.wait(timeout=30) == 0
    # Python turns a default SIGINT into KeyboardInterrupt; an ignored one it leaves ignored.
    assert log.read_text() == "True True\n"


def test_children_are_stopped_with_sigterm(tmp_path, capsys) -> None:
    log = tmp_path / "child.log"
    child = demo._start([sys.executable, "-c", POLITE], dict(os.environ), log)
    wait_for(log, "ready")
    assert os.getsid(child.pid) == child.pid  # a session of its own: Ctrl-C reaches the demo
    demo._stop(child, "the child")
    assert child.returncode == 0
    assert "got SIGTERM" in log.read_text()
    assert "did not stop" not in capsys.readouterr().err


def test_a_child_ignoring_sigterm_is_killed_and_the_demo_says_so(
    tmp_path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "STOP_TIMEOUT_SECONDS", 0.5)
    log = tmp_path / "child.log"
    child = demo._start([sys.executable, "-c", STUBBORN], dict(os.environ), log)
    wait_for(log, "ready")
    demo._stop(child, "the child")
    assert child.returncode == -signal.SIGKILL
    assert "the child did not stop within 0.5 s of SIGTERM; killed it" in capsys.readouterr().err


def test_stopping_a_child_that_has_ended_does_nothing(tmp_path) -> None:
    child = demo._start([sys.executable, "-c", "pass"], dict(os.environ), tmp_path / "log")
    child.wait(timeout=30)
    demo._stop(child, "the child")
    demo._stop(None, "no child")


def test_the_simulators_summary_is_its_last_done_or_stopped_line(tmp_path) -> None:
    log = tmp_path / "simulator.log"
    log.write_text(
        "1000 sent, 200/s; valid 1000\n"
        "stopped: 1200 messages in 6.0 s (200/s); valid 1200; 3 could not be sent: X\n"
        "ground truth of the 1197 messages delivered written to t.json\n"
    )
    assert demo._summary(log) == (
        "stopped: 1200 messages in 6.0 s (200/s); valid 1200; 3 could not be sent: X"
    )
    log.write_text("1000 sent, 200/s; valid 1000\n")
    assert demo._summary(log) is None


class NoBroker:
    """Stands in for LocalKafka where the demo must refuse before it starts one."""

    def __init__(self, **options: object) -> None:
        raise AssertionError("the demo started a broker")


def demo_args() -> argparse.Namespace:
    return argparse.Namespace(secure=False)


def test_the_demo_refuses_a_taken_web_port(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(demo, "LOG_DIR", tmp_path)
    monkeypatch.setattr(demo, "LocalKafka", NoBroker)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("PELASTUS_HUB_WEB_PORT", str(taken.getsockname()[1]))
        assert demo.run_demo(demo_args()) == 1
    error = capsys.readouterr().err
    assert "is taken" in error and "PELASTUS_HUB_WEB_PORT" in error
    assert not (tmp_path / "demo-worker.log").exists()


def test_a_second_demo_from_the_same_folder_is_refused(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(demo, "LOG_DIR", tmp_path)
    monkeypatch.setattr(demo, "LocalKafka", NoBroker)
    (tmp_path / "demo-worker.log").write_text("the first demo's log\n")
    with demo._own_run_folder(tmp_path):  # the first demo holds it
        assert demo.run_demo(demo_args()) == 1
    error = capsys.readouterr().err
    assert f"another demo runs from {tmp_path} (pid {os.getpid()})" in error
    assert (tmp_path / "demo-worker.log").read_text() == "the first demo's log\n"
