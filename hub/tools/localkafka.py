"""A single-node Kafka broker (KRaft) from Maven Central jars and the local JDK: no Docker."""

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from subprocess import DEVNULL, PIPE, STDOUT

import aiokafka
from aiokafka.errors import KafkaError

from pelastus_hub.tools import REPO_ROOT
from pelastus_hub.tools.ports import free_ports

POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
# Written last into the jar folder, so an interrupted resolution is never reused.
COMPLETE_MARKER = ".resolution-complete"
# Maven also fetches poms and its own plugins; a line per jar is progress enough.
_DOWNLOADED_JAR = re.compile(r"Downloaded from [^:]+: \S+/([^/\s]+\.jar) ")


class LocalKafkaError(RuntimeError):
    pass


def kafka_version() -> str:
    """The broker's version, as deploy/kafka/pom.xml pins it."""
    try:
        pom = POM.read_text()
    except FileNotFoundError:
        raise LocalKafkaError(
            f"{POM} not found: the local broker runs from a checkout of the pelastus-hub repository"
        ) from None
    return re.search(r"<kafka\.version>\s*([^<\s]+)", pom)[1]


def ensure_jars(cache_dir: Path, progress: Callable[[str], None]) -> Path:
    """Return the folder holding the broker's jars, resolving them with Maven if needed."""
    version = kafka_version()
    lib = cache_dir / f"kafka-{version}" / "lib"
    if (lib / COMPLETE_MARKER).is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven (mvn) is needed once to fetch the Kafka jars: install it "
            "(Debian/Ubuntu package: maven) and put mvn on PATH"
        )
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="lib-partial-", dir=lib.parent))
    try:
        progress(f"kafka jars: resolving Kafka {version} with Maven into {lib}")
        command = [mvn, "-B", "-f", str(POM), "dependency:copy-dependencies"]
        command += [f"-DoutputDirectory={partial}", "-DincludeScope=runtime"]
        tail: deque[str] = deque(maxlen=30)
        downloaded = 0
        with subprocess.Popen(command, stdout=PIPE, stderr=STDOUT, text=True) as mvn_process:
            for line in mvn_process.stdout:
                tail.append(line.rstrip())
                if match := _DOWNLOADED_JAR.search(line):
                    downloaded += 1
                    progress(f"kafka jars: {downloaded} downloaded ({match[1]})")
        if mvn_process.returncode != 0:
            output = "\n".join(tail)
            raise LocalKafkaError(f"mvn failed to resolve the Kafka jars; it ended with:\n{output}")
        (partial / COMPLETE_MARKER).write_text(f"kafka {version}\n")
        if not (lib / COMPLETE_MARKER).is_file():  # else a parallel run finished first
            partial.rename(lib)
        progress(f"kafka jars: ready ({downloaded} jars downloaded)")
        return lib
    finally:
        shutil.rmtree(partial, ignore_errors=True)


async def _answers_metadata(bootstrap_servers: str) -> bool:
    host, port = bootstrap_servers.rsplit(":", 1)
    try:  # a plain connect first, as aiokafka logs an error for every refused bootstrap
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    client = aiokafka.AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return bool((await client.fetch_all_metadata()).brokers())
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await client.close()


def _bootstrap_of(properties: Path) -> str:
    """The address the broker of a data folder listens on, from its server.properties."""
    text = properties.read_text() if properties.is_file() else ""
    if match := re.search(r"^advertised\.listeners=PLAINTEXT://(\S+)$", text, re.MULTILINE):
        return match[1]
    raise LocalKafkaError(
        f"{properties.parent} is not a broker's data folder (no listener in {properties})"
    )


def _stop_group(pid: int, running: Callable[[], bool]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if running():
            os.killpg(pid, signal.SIGKILL)


class LocalKafka:
    """One broker in a data folder of its own, on two ports of its own.

    start() formats a fresh folder on two free ports and brings the broker up; stop() ends
    it and removes the folder (kept with keep_data). To test a broker outage,
    stop_broker(hard) ends only the process: hard=True is a crash (SIGKILL), hard=False a
    clean shutdown (SIGTERM). The folder stays, and start() again restarts the broker on it,
    its data and its ports without reformatting, so bootstrap_servers is the same as before.
    start() also restarts on a folder kept by stop() with keep_data, and on data_dir, the
    folder of an earlier LocalKafka.
    """

    def __init__(
        self,
        run_dir: Path | None = None,
        cache_dir: Path | None = None,
        heap: str = "768m",
        progress: Callable[[str], None] = print,
        keep_data: bool = False,
        data_dir: Path | None = None,
    ) -> None:
        default_cache = os.environ.get("PELASTUS_HUB_CACHE_DIR") or "~/.cache/pelastus-hub"
        self.cache_dir = cache_dir or Path(default_cache).expanduser()
        self.run_dir, self.heap, self.progress, self.keep_data = run_dir, heap, progress, keep_data
        self._process: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir  # the formatted folder once there is one, until stop() removes it
        self.bootstrap_servers: str | None = None  # set while the broker runs

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 120.0) -> str:
        if self._process is not None:
            raise LocalKafkaError("the broker is already running")
        java = shutil.which("java")
        if java is None:
            raise LocalKafkaError(
                "java not found: the local Kafka broker needs a JDK 17 or newer on PATH "
                "(e.g. Debian package openjdk-17-jre-headless)"
            )
        classpath = str(ensure_jars(self.cache_dir, self.progress) / "*")
        # Log4j's built-in console configuration at WARN keeps broker.log short enough to read.
        jvm_options = ["-Dlog4j2.level=WARN", "-cp", classpath]
        restart = self.data_dir is not None
        if not restart:
            self.data_dir = self._format(java, jvm_options)
        data = self.data_dir
        properties = data / "server.properties"
        bootstrap = _bootstrap_of(properties)
        log = data / "broker.log"
        command = [java, f"-Xmx{self.heap}", *jvm_options, "kafka.Kafka", str(properties)]
        # A session of its own, so a detached broker survives its terminal closing and
        # stopping can signal the whole process group. Appending keeps a crashed run's log.
        with log.open("ab") as out:
            self._process = subprocess.Popen(
                command, stdin=DEVNULL, stdout=out, stderr=STDOUT, start_new_session=True
            )
        self.bootstrap_servers = bootstrap
        what = (
            f"restarting at {bootstrap} on its data in {data}"
            if restart
            else f"starting at {bootstrap}"
        )
        self.progress(f"kafka: broker pid {self._process.pid} {what}")
        began = time.monotonic()
        try:
            asyncio.run(self._wait_ready(began + timeout, log))
        except BaseException:
            self.stop_broker()  # the data folder stays: the error points at its log
            raise
        self.progress(f"kafka: broker ready at {bootstrap} in {time.monotonic() - began:.1f} s")
        return bootstrap

    def _format(self, java: str, jvm_options: list[str]) -> Path:
        """A new data folder with server.properties on two free ports, formatted for KRaft."""
        port, cport = free_ports(2)
        if self.run_dir:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        data = Path(tempfile.mkdtemp(prefix="kafka-", dir=self.run_dir))
        bootstrap = f"127.0.0.1:{port}"
        properties = data / "server.properties"
        properties.write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://{bootstrap},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://{bootstrap}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data / "logs"}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
# Above the hub's 1 MiB limit: oversized records must reach the hub to be dead-lettered.
message.max.bytes=4194304
""")
        # The id form of `kafka-storage.sh random-uuid`, without another JVM start;
        # "--cluster-id=" keeps an id starting with "-" from being read as an option.
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        storage_format = [java, *jvm_options, "kafka.tools.StorageTool", "format", "-c"]
        command = [*storage_format, str(properties), f"--cluster-id={cluster_id}"]
        formatted = subprocess.run(command, stdout=PIPE, stderr=STDOUT, text=True)
        if formatted.returncode != 0:
            # Removed, so that no later start() takes it for a broker's folder to restart.
            shutil.rmtree(data, ignore_errors=True)
            raise LocalKafkaError(f"formatting Kafka storage failed:\n{formatted.stdout}")
        return data

    async def _wait_ready(self, deadline: float, log: Path) -> None:
        while not await _answers_metadata(self.bootstrap_servers):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                with log.open(errors="replace") as f:
                    tail = "".join(deque(f, maxlen=30))
                what = "was not ready in time" if code is None else f"exited early (code {code})"
                raise LocalKafkaError(f"the Kafka broker {what}; last lines of {log}:\n{tail}")
            await asyncio.sleep(0.25)

    def stop_broker(self, hard: bool = False) -> None:
        """End the broker process, keeping its data folder and ports for start() to reuse.

        hard=True kills it at once (SIGKILL, a crash); otherwise it shuts down cleanly
        (SIGTERM, and SIGKILL only if it has not ended within 30 s). After a crash the next
        start() takes some 10 s longer: the controller refuses the broker's new registration
        until the crashed one's session (broker.session.timeout.ms, 9 s) has timed out.
        """
        if self._process is not None:
            if hard:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
            else:
                _stop_group(self._process.pid, lambda: self._process.poll() is None)
            self._process.wait()
        self._process = self.bootstrap_servers = None

    def stop(self) -> None:
        self.stop_broker()
        if self.data_dir is not None and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self) -> "LocalKafka":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
    return {**state, "responding": asyncio.run(_answers_metadata(state["bootstrap_servers"]))}


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
        _stop_group(state["pid"], lambda: _broker_alive(state))
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


def run_cli(action: str, state_file: Path, keep_data: bool = False) -> int:
    """`pelastus-hub kafka start|stop|status`: prints the outcome, returns the exit code.

    keep_data goes with stop: see stop_detached.
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
            state = {**start_detached(state_file), "responding": True}
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
    print(
        f"kafka {state['kafka_version']} running at {state['bootstrap_servers']}{health}\n"
        f"  pid {state['pid']}, data dir {state['data_dir']}, started {state['started_at']}\n"
        f"  for the hub: export PELASTUS_HUB_BOOTSTRAP_SERVERS={state['bootstrap_servers']}"
    )
    return 0 if state["responding"] else 1
