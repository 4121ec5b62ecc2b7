"""Where a consumer group's committed offsets live, and when they can be trusted.

A batch's offsets are committed in its transaction (pelastus_hub.runtime.checkpoint), and the group
coordinator makes them readable only once the broker has written the transaction's
markers, a moment after the commit. An offset fetch in that moment returns the offsets
before it, and a partition assigned then would be processed twice from there. Newer
brokers can refuse such a fetch (KIP-447's require_stable); aiokafka does not ask for
it. So a worker waits after each rebalance until no transaction is open before the end
of its group's partition of __consumer_offsets (read committed, the end is the last
stable offset), and only then reads its committed offsets.

Nor does aiokafka read an offset fetch's group-level error (OffsetFetch v2 and later): a
coordinator still loading the group's offsets after a broker restart answers with that
error and no offsets, which aiokafka takes for offsets never committed, so a worker would
resume from the beginning. committed_offsets() raises that error instead.
"""

from collections import defaultdict

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient, CoordinationType
from aiokafka.errors import for_code
from aiokafka.protocol.commit import OffsetFetchRequest

OFFSETS_TOPIC = "__consumer_offsets"
# Faust's own consumer group (pelastus_hub.runtime.app) is the workers' group id and this.
RUNTIME_GROUP_SUFFIX = "-runtime"


def java_string_hash(text: str) -> int:
    """Java's String.hashCode, over UTF-16 code units, as a signed 32-bit integer."""
    units = text.encode("utf-16-be")
    value = 0
    for i in range(0, len(units), 2):
        value = (31 * value + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


async def committed_offsets(
    client: AIOKafkaClient, group_id: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The group's committed offset of each partition, None where it never committed one;
    raises the broker's error, the group's own included (a retriable one while the
    coordinator loads)."""
    if not partitions:
        return {}
    coordinator = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    response = await client.send(coordinator, OffsetFetchRequest(group_id, list(by_topic.items())))
    if error := getattr(response, "error_code", 0):  # the group's, from v2 on
        raise for_code(error)()
    committed: dict[TopicPartition, int | None] = dict.fromkeys(partitions)
    for topic, entries in response.topics:
        for partition, offset, _metadata, code in entries:
            if code:
                raise for_code(code)()
            committed[TopicPartition(topic, partition)] = offset if offset >= 0 else None
    return committed


def group_partition(group_id: str, partitions: int) -> int:
    """The partition of __consumer_offsets that holds the group's offsets, as the broker
    picks it (Utils.abs(groupId.hashCode()) % partitions)."""
    code = java_string_hash(group_id)
    return (0 if code == -(1 << 31) else abs(code)) % partitions
