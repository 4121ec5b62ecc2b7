"""Stopping the simulator and the demo with signals, as a shell script or a service manager would.

Both run as child processes that inherited SIGINT ignored, as the background jobs of
a non-interactive shell do.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.topic_admin import ensure_topics
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.ports import free_ports
from tests.integration.hub_process import REPO

pytestmark = pytest.mark.integration


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ignore_stop_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


async def create_input_topics(bootstrap: str) -> None:
    # The broker does not create topics on demand; the hub's worker would have.
    settings = HubSettings(bootstrap_servers=bootstrap)
    registry = Registry.load(settings.schemas_dir)
    topics = [input_topic(code, family) for code in registry.codes for family in FAMILIES]
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        await ensure_topics(
            admin, [NewTopic(topic, settings.input_partitions, 1) for topic in topics]
        )
    finally:
        await admin.close()


def read_until(stream, text: str) -> list[str]:
    """Lines up to and with the first that holds `text`; all of them if the stream ends."""
    lines = []
    for line in stream:
        lines.append(line)
        if text in line:
            break
    return lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_simulator_stops_cleanly_on_a_signal(kafka_bootstrap, tmp_path, signum) -> None:
    """Even one it inherited ignored: it flushes, sums up and writes its ground truth."""
    asyncio.run(create_input_topics(kafka_bootstrap))
    truth = tmp_path / "truth.json"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "pelastus_hub.cli", "simulate", "--rate=200", f"--truth={truth}"],
        env={**os.environ, "PELASTUS_HUB_BOOTSTRAP_SERVERS": kafka_bootstrap},
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_stop_signals,
    )
    try:
        # Sending: its progress lines begin once it is connected and its handlers are set.
        before = read_until(simulator.stderr, " sent, ")
        simulator.send_signal(signum)
        _, rest = simulator.communicate(timeout=60)
    finally:
        if simulator.poll() is None:
            simulator.kill()
    output = "".join(before) + rest
    assert simulator.returncode == 0, output
    *_, summary, written = output.splitlines()
    assert summary.startswith("stopped: ") and "could not be sent" not in summary, output
    sent = int(summary.split()[1])
    assert written == f"ground truth of the {sent} messages delivered written to {truth}"
    assert orjson.loads(truth.read_bytes())["units"]


def test_the_demo_stops_everything_in_order_on_sigterm(tmp_path) -> None:
    # Its logs go to tmp_path instead of the repository's .run/.
    demo = (
        "import sys; from pathlib import Path; import pelastus_hub.tools.demo; "
        "pelastus_hub.tools.demo.LOG_DIR = Path(sys.argv[1]); from pelastus_hub.cli import main; "
        "sys.exit(main(['run', '--rate=100']))"
    )
    env = {
        **os.environ,
        "PELASTUS_HUB_WEB_PORT": str(free_ports(1)[0]),
        "PELASTUS_HUB_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", demo, str(tmp_path)],
        env=env,
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint,
    )
    simulator_log = tmp_path / "demo-simulator.log"
    try:
        before = read_until(process.stderr, "the hub is running")
        assert process.poll() is None, "".join(before)
        # The simulator is sending once it reports progress.
        deadline = time.monotonic() + 60
        while " sent, " not in simulator_log.read_text():
            assert time.monotonic() < deadline, simulator_log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(before) + rest
    assert process.returncode == 0, output
    assert "did not stop" not in output
    after = output.split("[pelastus-hub] stopping\n", 1)[1].splitlines()
    assert after[0].startswith("[pelastus-hub] simulator stopped: "), output
    assert after[-1] == "[pelastus-hub] stopped"
    assert "worker exited" not in output
    assert Path(tmp_path / "demo-worker.log").exists()
