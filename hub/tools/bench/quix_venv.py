"""The Quix Streams peer's own virtualenv, made once and cached: Quix Streams 3.28 needs a
pydantic older than the hub's, so the peer cannot run in the hub's environment.

It holds Quix Streams and what the hub's contract modules import; the hub itself is not
installed there: the peer loads the contract from the hub's source folder, so it validates
with the very models (a) does (see quix_pipeline.py).
"""

import fcntl
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

QUIX_VERSION = "3.28.1"
REQUIREMENTS = (
    f"quixstreams=={QUIX_VERSION}",
    # The newest pydantic Quix Streams 3.28 works with.
    "pydantic<2.14",
    # What the hub's contract modules import besides pydantic.
    "pydantic-settings",
    "orjson",
    "tzdata",
)
# pip's lines that show how the install goes, without its every detail.
PROGRESS = ("Collecting", "Installing", "Successfully")


class QuixUnavailable(Exception):
    """The peer cannot run here; the message says why, in one line."""


def cache_dir() -> Path:
    """Where the hub's tools cache what they download (as the local broker does)."""
    return Path(os.environ.get("PELASTUS_HUB_CACHE_DIR") or "~/.cache/pelastus-hub").expanduser()


def quix_python(progress: Callable[[str], None]) -> Path:
    """The peer venv's python, the venv made first if it is not there yet."""
    version = f"py{sys.version_info.major}.{sys.version_info.minor}"
    venv = cache_dir() / f"bench-quix-{QUIX_VERSION}-{version}"
    python = venv / "bin" / "python"
    # Written last: a venv without it was left half-made and is made again.
    ready = venv / "bench-ready"
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Two benches starting at once make it once.
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        progress(f"making the Quix Streams peer's venv (once, cached): {venv}")
        # The venv takes the Python this process runs on.
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True
        )
        if made.returncode != 0:
            raise QuixUnavailable(f"python -m venv failed: {_last_line(made.stderr)}")
        _pip_install(python, progress)
        ready.write_text("\n".join(REQUIREMENTS) + "\n")
    return python


def _pip_install(python: Path, progress: Callable[[str], None]) -> None:
    pip = subprocess.Popen(
        [str(python), "-m", "pip", "install", "--progress-bar", "off", *REQUIREMENTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert pip.stdout is not None
    tail: deque[str] = deque(maxlen=20)
    for line in pip.stdout:
        tail.append(line)
        if line.startswith(PROGRESS):
            progress(f"  {line.rstrip()}")
    if pip.wait() != 0:
        errors = [line for line in tail if line.startswith("ERROR")] or list(tail)
        raise QuixUnavailable(
            f"pip could not install {' '.join(REQUIREMENTS)}: {_last_line(''.join(errors))}"
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
