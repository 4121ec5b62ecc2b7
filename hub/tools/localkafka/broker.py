"""One broker process on its data folder: started, awaited until it answers, and stopped."""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from subprocess import DEVNULL, STDOUT
from typing import Any

import aiokafka
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from pelastus_hub.settings import HubSettings, read_secret
from pelastus_hub.tools.localkafka.jars import LocalKafkaError, ensure_jars
from pelastus_hub.tools.localkafka.storage import (
    ADMIN,
    ADMIN_PASSWORD_FILE,
    CA_FILE,
    SCRAM,
    bootstrap_of,
    format_data_dir,
    is_secured,
)


async def answers_metadata(settings: HubSettings) -> bool:
    """Whether a broker listens at this address and answers a metadata request."""
    host, port = settings.bootstrap_servers.rsplit(":", 1)
    try:  # a plain connect first, as aiokafka logs an error for every refused bootstrap
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    client = aiokafka.AIOKafkaClient(**settings.kafka_options(), request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return bool((await client.fetch_all_metadata()).brokers())
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await client.close()


def stop_group(pid: int, running: Callable[[], bool]) -> None:
    """SIGTERM to a process group, then SIGKILL if it is still running after 30 s."""
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

    secure=True formats a secured broker (see storage): connection() gives the settings a
    client connects with, as the admin or as a user provisioned on it.
    """

    def __init__(
        self,
        run_dir: Path | None = None,
        cache_dir: Path | None = None,
        heap: str = "768m",
        progress: Callable[[str], None] = print,
        keep_data: bool = False,
        data_dir: Path | None = None,
        secure: bool = False,
    ) -> None:
        default_cache = os.environ.get("PELASTUS_HUB_CACHE_DIR") or "~/.cache/pelastus-hub"
        self.cache_dir = cache_dir or Path(default_cache).expanduser()
        self.run_dir, self.heap, self.progress, self.keep_data = run_dir, heap, progress, keep_data
        if secure and data_dir is not None and not is_secured(data_dir):
            raise LocalKafkaError(
                f"the broker in {data_dir} is not a secured one; a plain `kafka stop` deletes "
                "it, and `kafka start --secure` then starts a secured one"
            )
        self.secure = secure or (data_dir is not None and is_secured(data_dir))
        self._process: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir  # the formatted folder once there is one, until stop() removes it
        self.bootstrap_servers: str | None = None  # set while the broker runs

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate a secured broker's clients check it with."""
        return self.data_dir / CA_FILE if self.secure and self.data_dir else None

    @property
    def admin_password_file(self) -> Path | None:
        return self.data_dir / ADMIN_PASSWORD_FILE if self.secure and self.data_dir else None

    def connection(self, username: str = ADMIN, password: str | None = None) -> dict[str, Any]:
        """Every connection field of HubSettings for this broker: on a secured one as
        username (by default the admin, with its password), over TLS checked against its
        CA; on a plain one, plaintext, whatever else is set."""
        secured = self.secure
        if secured and password is None and username == ADMIN:
            password = read_secret(self.admin_password_file)
        return {
            "bootstrap_servers": bootstrap_of(self.data_dir / "server.properties"),
            "security_protocol": "SASL_SSL" if secured else "PLAINTEXT",
            "sasl_mechanism": SCRAM if secured else None,
            "sasl_username": username if secured else None,
            "sasl_password": SecretStr(password) if secured and password else None,
            "ssl_cafile": self.ca_file,
            "ssl_certfile": None,
            "ssl_keyfile": None,
        }

    def settings(
        self, username: str = ADMIN, password: str | None = None, base: HubSettings | None = None
    ) -> HubSettings:
        """Settings connecting to this broker as connection() says: base's others (by
        default HubSettings' defaults: the user's PELASTUS_HUB_* variables must not change
        how a tool reaches its own broker)."""
        base = base or HubSettings.model_construct()
        return base.model_copy(update=self.connection(username, password))

    def environment(
        self, user: str | None = ADMIN, password_file: Path | None = None
    ) -> dict[str, str]:
        """connection() as PELASTUS_HUB_* variables for a child process, the password as a
        file (the admin's own by default); user None leaves the login out. A field unset is
        an empty variable, which counts as unset, whatever the child inherits."""
        env = {"PELASTUS_HUB_SASL_PASSWORD": ""}  # the file, never both
        for name, value in self.connection(user or ADMIN, "").items():
            if name == "sasl_password":
                name = "sasl_password_file"
                value = (password_file or self.admin_password_file) if user else None
            elif name == "sasl_username" and user is None:
                value = None
            env[f"PELASTUS_HUB_{name.upper()}"] = "" if value is None else str(value)
        return env

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
            self.data_dir = format_data_dir(java, jvm_options, self.run_dir, self.secure)
        data = self.data_dir
        properties = data / "server.properties"
        bootstrap = bootstrap_of(properties)
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
        secured = " (secured: TLS, SCRAM, ACLs)" if self.secure else ""
        self.progress(f"kafka: broker pid {self._process.pid} {what}{secured}")
        began = time.monotonic()
        try:
            asyncio.run(self._wait_ready(began + timeout, log))
        except BaseException:
            self.stop_broker()  # the data folder stays: the error points at its log
            raise
        self.progress(f"kafka: broker ready at {bootstrap} in {time.monotonic() - began:.1f} s")
        return bootstrap

    async def _wait_ready(self, deadline: float, log: Path) -> None:
        admin = self.settings()
        while not await answers_metadata(admin):
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
                stop_group(self._process.pid, lambda: self._process.poll() is None)
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
