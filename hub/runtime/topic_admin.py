"""Creating the hub's topics, with the settings it relies on, and asking how many partitions a
topic has."""

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.topics import (
    CAPABILITY,
    DEAD_LETTER,
    KPI,
    SNAPSHOT_REQUESTS,
    feedback_topic,
    input_topic,
    state_topic,
)
from pelastus_hub.settings import HubSettings

TOPIC_ALREADY_EXISTS = 36
KPI_RETENTION_MS = 400 * 24 * 3600 * 1000


async def ensure_topics(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    existing = set(await admin.list_topics())
    missing = [t for t in topics if t.name not in existing]
    if not missing:
        return []
    response = await admin.create_topics(missing)
    created = []
    for name, code, *message in response.topic_errors:
        if code == TOPIC_ALREADY_EXISTS:  # another worker raced us to it: fine
            continue
        if code != 0:
            raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        created.append(name)
    return created


async def create_hub_topics(
    settings: HubSettings,
    departments: Iterable[str],
    families: Iterable[str],
    clients: KafkaClients,
) -> list[str]:
    """Create whichever of the hub's topics are missing; returns the names created."""
    admin = clients.admin()
    await admin.start()
    try:
        wanted = hub_topics(
            sorted(departments),
            sorted(families),
            settings.input_partitions,
            settings.replication_factor,
            settings.max_record_bytes,
        )
        return await ensure_topics(admin, wanted)
    finally:
        await admin.close()


async def partition_count(clients: KafkaClients, topic: str) -> int | None:
    """How many partitions a topic has (internal ones too); None if it does not exist."""
    admin = clients.admin()
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return len(described["partitions"]) if described["error_code"] == 0 else None


def hub_topics(
    departments: list[str],
    families: list[str],
    partitions: int,
    replicas: int,
    max_record_bytes: int,
) -> list[NewTopic]:
    """Every topic the hub reads or writes, with the settings it relies on.

    The dead-letter and feedback topics take records up to max_record_bytes whatever
    the broker's default, since the hub's records there are bounded by that (pelastus_hub.pipeline.outputs).
    """
    sized = {"max.message.bytes": str(max_record_bytes)}
    topics = [
        NewTopic(input_topic(code, family), partitions, replicas)
        for code in departments
        for family in families
    ]
    topics += [
        NewTopic(feedback_topic(code), 1, replicas, topic_configs=sized) for code in departments
    ]
    topics += [
        NewTopic(DEAD_LETTER, partitions, replicas, topic_configs=sized),
        # One partition: one ordered snapshot stream whose last record is the latest.
        NewTopic(CAPABILITY, 1, replicas),
        NewTopic(SNAPSHOT_REQUESTS, 1, replicas),
        # Compacted, and each window's result kept 400 days, for the year's comparisons.
        NewTopic(
            KPI,
            1,
            replicas,
            topic_configs={
                "cleanup.policy": "compact,delete",
                "retention.ms": str(KPI_RETENTION_MS),
            },
        ),
    ]
    topics += [
        NewTopic(state_topic(family), 1, replicas, topic_configs={"cleanup.policy": "compact"})
        for family in families
    ]
    return topics
