"""Reading a group's committed offsets on the real broker, before and right after it restarts.

A restarted broker's group coordinator answers offset fetches with an error until it has
loaded the group's offsets again; aiokafka's own fetch took that answer for offsets never
committed, and a worker resumed from the beginning, writing every outcome again.
"""

import asyncio

import pytest
from aiokafka import AIOKafkaClient, TopicPartition

from pelastus_hub.runtime.group_offsets import committed_offsets
from pelastus_hub.runtime.retry import retrying
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.bench.backlog import start_group_at
from tests.integration import topics

pytestmark = pytest.mark.integration

GROUP = "group-offsets-test"
TOPIC = "group-offsets-input"


async def read_committed(bootstrap: str, partitions: list[TopicPartition]) -> tuple[dict, list]:
    """The committed offsets, read as the worker reads them (retried while the broker is
    away or loading), and the errors retried on the way."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    retried: list[BaseException] = []
    await retrying("starting the client", client.bootstrap, retried.append)
    try:
        offsets = await retrying(
            "reading offsets",
            lambda: asyncio.wait_for(committed_offsets(client, GROUP, partitions), 30),
            retried.append,
        )
        return offsets, retried
    finally:
        await client.close()


async def test_committed_offsets_are_never_read_as_missing_after_a_broker_restart(kafka):
    bootstrap = kafka.bootstrap_servers
    await topics.create(bootstrap, TOPIC, 3)
    first, second, never = (TopicPartition(TOPIC, p) for p in range(3))
    # Committed for the group before any of its members starts, as the bench does.
    await start_group_at(HubSettings(bootstrap_servers=bootstrap), GROUP, {first: 5, second: 7})
    partitions = [first, second, never]
    expected = {first: 5, second: 7, never: None}

    assert (await read_committed(bootstrap, partitions))[0] == expected

    kafka.stop_broker(hard=True)
    assert await asyncio.to_thread(kafka.start) == bootstrap
    # At once: the coordinator may still be loading the group's offsets.
    offsets, retried = await read_committed(bootstrap, partitions)
    assert offsets == expected, retried
