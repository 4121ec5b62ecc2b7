"""`pelastus-hub group show|reset` and `state rebuild` on the real broker: a running worker seen
with its partitions and lag, resets refused while it runs and applied once it stopped (read
back with a client of another library than the tool's), and the state rebuilt from the
inputs by the next worker, to the same picture."""

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic, state_topic
from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.simulator import generate
from tests.integration.hub_process import REPO, WorkerProcess
from tests.unit.helpers import event

pytestmark = pytest.mark.integration

REGISTRY = Registry.load(Path(__file__).resolve().parents[2] / "schemas")
GROUP = HubSettings().group_id
# Every department's input topics, three partitions each.
INPUT_PARTITIONS = len(REGISTRY.codes) * len(FAMILIES) * HubSettings().input_partitions
TRAFFIC = 600
# Re-sent copies of one event, produced while no worker runs: the lag to see.
RESENT = 20
PIRKANMAA_UNITS = input_topic("pirkanmaa", "unit-status")


def cli(bootstrap: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", *args],
        env={**os.environ, "PELASTUS_HUB_BOOTSTRAP_SERVERS": bootstrap, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def show(bootstrap: str) -> dict:
    shown = cli(bootstrap, "group", "show", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def clients(bootstrap: str) -> KafkaClients:
    return KafkaClients.from_settings(HubSettings(bootstrap_servers=bootstrap))


async def send(bootstrap: str, records: list[tuple[str, bytes | None, bytes, list]]) -> None:
    producer = clients(bootstrap).producer(acks="all")
    await producer.start()
    try:
        for topic, key, value, headers in records:
            await producer.send(topic, value, key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()


async def committed(bootstrap: str) -> dict[tuple[str, int], int]:
    """The group's committed offsets, as aiokafka's admin reads them."""
    admin = clients(bootstrap).admin()
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(GROUP)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def topics(bootstrap: str) -> set[str]:
    admin = clients(bootstrap).admin()
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def picture(snapshot: dict) -> dict:
    """Each department's units by status, open incidents by urgency and readiness."""
    return {
        code: (
            {s: n for s, n in view["units_by_status"].items() if n},
            view["incidents"]["by_urgency"],
            view["readiness"],
        )
        for code, view in snapshot["departments"].items()
    }


def latest_after_consumed(worker: WorkerProcess) -> dict:
    """A snapshot built after what the worker has consumed: the one after the next, as the
    next may have been under way already."""
    return worker.wait_snapshot_after(worker.wait_snapshot_after(0)["sequence"] + 1)


def wait_for(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


def test_group_show_reset_and_state_rebuild(broker, worker, tmp_path):
    start = datetime.now(UTC) - timedelta(minutes=10)
    shares = dict(invalid_share=0.03, duplicate_share=0.03, out_of_order_share=0.03)
    traffic = [
        (m.topic, m.key, m.value, list(m.headers))
        for m in islice(generate(REGISTRY, 7, start, 50.0, **shares), TRAFFIC)
    ]
    resent = (PIRKANMAA_UNITS, b"RPI487", orjson.dumps(event()), [])
    asyncio.run(send(broker, [*traffic, resent]))
    worker.wait_consumed(TRAFFIC + 1)
    before = latest_after_consumed(worker)

    # The running worker, with every input partition, and nothing left to read once its
    # last transaction's offsets are stable.
    def caught_up() -> dict | None:
        group = show(broker)
        return group if group["members"] and group["lag"] == 0 else None

    group = wait_for(caught_up, "member without lag")
    (member,) = group["members"]
    assert len(member["partitions"]) == INPUT_PARTITIONS and member["lag"] == 0
    assert member["client_id"] and member["host"] and member["member_id"]
    used = [p for p in group["partitions"] if p["end"] > 0]
    assert sum(p["end"] for p in used) == TRAFFIC + 1
    assert all(p["committed"] == p["end"] and p["member_id"] == member["member_id"] for p in used)
    text = cli(broker, "group", "show")
    assert f"member {member['client_id']}" in text.stdout and "lag by department" in text.stdout

    refused = cli(broker, "group", "reset", "--to-earliest")
    assert refused.returncode == 1 and "stop the workers first" in refused.stderr
    assert member["member_id"] in refused.stderr and refused.stderr.count("\n") == 2
    refused = cli(broker, "state", "rebuild", "--dry-run")
    assert refused.returncode == 1 and "stop the workers first" in refused.stderr

    assert worker.stop() == 0
    stopped_at = datetime.now(UTC)
    asyncio.run(send(broker, [resent] * RESENT))
    group = show(broker)
    assert group["members"] == [] and group["lag"] == RESENT
    assert group["departments"]["pirkanmaa"] == RESENT and group["departments"]["lappi"] == 0
    (behind,) = [p for p in group["partitions"] if p["lag"]]
    where = (behind["topic"], behind["partition"])
    assert behind["topic"] == PIRKANMAA_UNITS and behind["member_id"] is None

    # A dry run changes nothing, and says what would move.
    offsets = asyncio.run(committed(broker))
    dry = cli(broker, "group", "reset", "--to-latest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"{RESENT} skipped" in dry.stdout and "dry run: no offset moved" in dry.stdout
    assert asyncio.run(committed(broker)) == offsets

    latest = cli(broker, "group", "reset", "--to-latest")
    assert latest.returncode == 0, latest.stderr
    assert asyncio.run(committed(broker)) == offsets | {where: behind["end"]}

    back = cli(broker, "group", "reset", "--to-time", stopped_at.isoformat())
    assert back.returncode == 0, back.stderr
    assert f"{RESENT} read again" in back.stdout and "`duplicate` or `stale`" in back.stdout
    assert asyncio.run(committed(broker)) == offsets

    rebuild = cli(broker, "state", "rebuild")
    assert rebuild.returncode == 0, rebuild.stderr
    assert "national.kpi are kept" in rebuild.stdout
    changelogs = {state_topic(family) for family in FAMILIES}
    assert not changelogs & asyncio.run(topics(broker))
    reset = asyncio.run(committed(broker))
    assert set(reset) == set(offsets) and set(reset.values()) == {0}

    # The next worker creates the changelogs again, compacted, and reads every input again.
    rebuilt = WorkerProcess(broker, tmp_path / "rebuilt.log")
    rebuilt.start()
    try:
        rebuilt.wait_consumed(TRAFFIC + 1 + RESENT)
        after = latest_after_consumed(rebuilt)
        assert after["sequence"] > before["sequence"]  # the sequence goes on
        assert picture(after) == picture(before)
        admin = AdminClient({"bootstrap.servers": broker})
        resources = [ConfigResource("topic", name) for name in sorted(changelogs)]
        for future in admin.describe_configs(resources).values():
            assert future.result(timeout=30)["cleanup.policy"].value == "compact"
    finally:
        assert rebuilt.stop() == 0


def test_errors_are_one_line(broker):
    nowhere = "127.0.0.1:9"  # nothing listens there
    bad_time = cli(nowhere, "group", "reset", "--to-time", "yesterday")
    assert bad_time.returncode == 2 and bad_time.stderr.startswith("error: --to-time")
    unknown = cli(broker, "group", "show", PELASTUS_HUB_GROUP_ID="no-such-group")
    assert unknown.returncode == 1 and "no consumer group 'no-such-group'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
