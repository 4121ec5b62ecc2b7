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

POM = Path(__file__).resolve().parent.parent / "deploy" / "kafka" / "pom.xml"
KAFKA_VERSION = re.search(r"<kafka\.version>\s*([^<\s]+)", POM.read_text())[1]
# Written last into the jar folder, so an interrupted resolution is never reused.
COMPLETE_MARKER = ".resolution-complete"
# Maven also fetches poms and its own plugins; a line per jar is progress enough.
_DOWNLOADED_JAR = re.compile(r"Downloaded from [^:]+: \S+/([^/\s]+\.jar) ")


class LocalKafkaError(RuntimeError):
    pass


def ensure_jars(cache_dir: Path, progress: Callable[[str], None]) -> Path:
    """Return the folder holding the broker's jars, resolving them with Maven if needed."""
    lib = cache_dir / f"kafka-{KAFKA_VERSION}" / "lib"
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
        progress(f"kafka jars: resolving Kafka {KAFKA_VERSION} with Maven into {lib}")
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
        (partial / COMPLETE_MARKER).write_text(f"kafka {KAFKA_VERSION}\n")
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


def _stop_group(pid: int, running: Callable[[], bool]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if running():
            os.killpg(pid, signal.SIGKILL)


class LocalKafka:
    """One broker in a fresh data folder: start() brings it up, stop() removes it."""

    def __init__(
        self,
        run_dir: Path | None = None,
        cache_dir: Path | None = None,
        heap: str = "768m",
        progress: Callable[[str], None] = print,
        keep_data: bool = False,
    ) -> None:
        default_cache = os.environ.get("PELASTUS_HUB_CACHE_DIR") or "~/.cache/pelastus-hub"
        self.cache_dir = cache_dir or Path(default_cache).expanduser()
        self.run_dir, self.heap, self.progress, self.keep_data = run_dir, heap, progress, keep_data
        self._process: subprocess.Popen[bytes] | None = None
        self.data_dir: Path | None = None  # kept after stop() only with keep_data
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
        with socket.socket() as s1, socket.socket() as s2:  # both open, so the ports differ
            for s in (s1, s2):
                s.bind(("127.0.0.1", 0))
            port, cport = s1.getsockname()[1], s2.getsockname()[1]
        if self.run_dir:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        data = self.data_dir = Path(tempfile.mkdtemp(prefix="kafka-", dir=self.run_dir))
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
        # Log4j's built-in console configuration at WARN keeps broker.log short enough to read.
        jvm_options = ["-Dlog4j2.level=WARN", "-cp", classpath]
        # The id form of `kafka-storage.sh random-uuid`, without another JVM start;
        # "--cluster-id=" keeps an id starting with "-" from being read as an option.
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        storage_format = [java, *jvm_options, "kafka.tools.StorageTool", "format", "-c"]
        command = [*storage_format, str(properties), f"--cluster-id={cluster_id}"]
        formatted = subprocess.run(command, stdout=PIPE, stderr=STDOUT, text=True)
        if formatted.returncode != 0:
            raise LocalKafkaError(f"formatting Kafka storage failed:\n{formatted.stdout}")
        log = data / "broker.log"
        command = [java, f"-Xmx{self.heap}", *jvm_options, "kafka.Kafka", str(properties)]
        # A session of its own, so a detached broker survives its terminal closing and
        # stopping can signal the whole process group.
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                command, stdin=DEVNULL, stdout=out, stderr=STDOUT, start_new_session=True
            )
        self.bootstrap_servers = bootstrap
        self.progress(f"kafka: broker pid {self._process.pid} starting at {bootstrap}")
        began = time.monotonic()
        try:
            asyncio.run(self._wait_ready(began + timeout, log))
        except BaseException:
            self._terminate()  # the data folder stays: the error points at its log
            raise
        self.progress(f"kafka: broker ready at {bootstrap} in {time.monotonic() - began:.1f} s")
        return bootstrap

    async def _wait_ready(self, deadline: float, log: Path) -> None:
        while not await _answers_metadata(self.bootstrap_servers):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                with log.open(errors="replace") as f:
                    tail = "".join(deque(f, maxlen=30))
                what = "was not ready in time" if code is None else f"exited early (code {code})"
                raise LocalKafkaError(f"the Kafka broker {what}; last lines of {log}:\n{tail}")
            await asyncio.sleep(0.25)

    def _terminate(self) -> None:
        if self._process is not None:
            _stop_group(self._process.pid, lambda: self._process.poll() is None)
            self._process.wait()
        self._process = self.bootstrap_servers = None

    def stop(self) -> None:
        self._terminate()
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
    ps = ["ps", "-o", "args=", "-p", str(state["pid"])]
    return state["data_dir"] in subprocess.run(ps, capture_output=True, text=True).stdout


def status_detached(state_file: Path) -> dict | None:
    """The detached broker's state plus whether it answers metadata; None if not running."""
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state is None or not _broker_alive(state):
        return None
    return {**state, "responding": asyncio.run(_answers_metadata(state["bootstrap_servers"]))}


def start_detached(state_file: Path, timeout: float = 120.0, **options) -> dict:
    """Start a broker that outlives this process; options go to LocalKafka."""
    running = status_detached(state_file)
    if running is not None:
        where = f"{running['bootstrap_servers']} (pid {running['pid']})"
        raise LocalKafkaError(f"kafka is already running at {where}")
    kafka = LocalKafka(**options, keep_data=True)
    kafka.start(timeout)
    state = {
        "pid": kafka.pid,
        "bootstrap_servers": kafka.bootstrap_servers,
        "data_dir": str(kafka.data_dir),
        "kafka_version": KAFKA_VERSION,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return state


def stop_detached(state_file: Path) -> bool:
    """Stop the detached broker and delete its data; False if none was running."""
    if not state_file.exists():
        return False
    state = json.loads(state_file.read_text())
    was_running = _broker_alive(state)
    if was_running:
        _stop_group(state["pid"], lambda: _broker_alive(state))
    shutil.rmtree(state["data_dir"], ignore_errors=True)
    state_file.unlink(missing_ok=True)
    return was_running


def run_cli(action: str, state_file: Path) -> int:
    """`pelastus-hub kafka start|stop|status`: prints the outcome, returns the exit code."""
    try:
        if action == "stop":
            print("kafka stopped" if stop_detached(state_file) else "kafka was not running")
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
    health = "" if state["responding"] else ", but NOT answering metadata requests"
    print(
        f"kafka {state['kafka_version']} running at {state['bootstrap_servers']}{health}\n"
        f"  pid {state['pid']}, data dir {state['data_dir']}, started {state['started_at']}\n"
        f"  for the hub: export PELASTUS_HUB_BOOTSTRAP_SERVERS={state['bootstrap_servers']}"
    )
    return 0 if state["responding"] else 1
