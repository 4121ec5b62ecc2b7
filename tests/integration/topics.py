"""Topics of a test's own on the real broker."""

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pelastus_hub.runtime.topic_admin import ensure_topics


async def create(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await ensure_topics(admin, [NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
