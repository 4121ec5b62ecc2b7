"""The hub's consumer group and topics on the broker, read and changed over Kafka's admin
protocol (confluent-kafka's AdminClient, the `operator` extra): members and their
assignments, committed offsets, the input partitions' offsets, offset resets and
deleting topics."""

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import wait
from datetime import datetime

from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import OffsetSpec

from pelastus_hub.contract.topics import input_topic
from pelastus_hub.runtime.group_offsets import RUNTIME_GROUP_SUFFIX
from pelastus_hub.tools.group_plan import Group, Key, Member, Offsets
from pelastus_hub.tools.provision.broker_admin import (
    CONNECT_TIMEOUT_SECONDS,
    BrokerAdmin,
    BrokerAdminError,
)

__all__ = ["BrokerAdminError", "GroupAdmin"]


class GroupAdmin(BrokerAdmin):
    def topics(self) -> dict[str, int]:
        """The broker's topics and their partition counts; the first request, which also
        tells whether the broker can be reached at all."""
        try:
            metadata = self.admin.list_topics(timeout=CONNECT_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise self._unreachable(error) from None
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()}

    def members(self, group_id: str) -> tuple[str, list[Member]]:
        """The group's state and members, each with its assigned partitions."""
        (future,) = self.admin.describe_consumer_groups([group_id]).values()
        wait([future], timeout=self.timeout)
        error = future.exception() if future.done() else None
        # Newer brokers answer so for a group they do not know; older ones say Dead.
        if (
            isinstance(error, KafkaException)
            and error.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND
        ):
            return ConsumerGroupState.DEAD.name.title(), []
        described = self._result(future, f"describing group {group_id}")
        members = [
            Member(
                m.member_id,
                m.client_id,
                m.host,
                group_id,
                tuple(sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions)),
            )
            for m in described.members
        ]
        return described.state.name.title().replace("_", " "), members

    def workers(self, group_id: str) -> list[Member]:
        """Every member of the workers' group and of their runtime group: each worker is in
        both, and joins and leaves them at different moments of its start and stop, so
        either counts."""
        _, batch = self.members(group_id)
        _, runtime = self.members(group_id + RUNTIME_GROUP_SUFFIX)
        return batch + runtime

    def committed(self, group_id: str) -> dict[Key, int]:
        request = [ConsumerGroupTopicPartitions(group_id)]
        # Stable: offsets of a transaction whose markers are not yet written are waited for.
        (future,) = self.admin.list_consumer_group_offsets(request, require_stable=True).values()
        listed = self._result(future, f"reading the committed offsets of group {group_id}")
        return {
            (tp.topic, tp.partition): tp.offset
            for tp in listed.topic_partitions
            if tp.offset >= 0  # none committed
        }

    def offsets(self, partitions: Iterable[Key], spec: OffsetSpec) -> dict[Key, int]:
        """Each partition's offset by spec, -1 where a time has no record at or after it.
        Committed records only, as the workers read them."""
        wanted = {TopicPartition(topic, partition): spec for topic, partition in partitions}
        if not wanted:
            return {}
        found = self.admin.list_offsets(wanted, isolation_level=IsolationLevel.READ_COMMITTED)
        return {
            (tp.topic, tp.partition): self._result(future, f"reading offsets of {tp.topic}").offset
            for tp, future in found.items()
        }

    def at_time(self, partitions: Iterable[Key], when: datetime) -> dict[Key, int | None]:
        """Each partition's first offset at or after `when`; None where there is none."""
        spec = OffsetSpec.for_timestamp(int(when.timestamp() * 1000))
        return {key: (o if o >= 0 else None) for key, o in self.offsets(partitions, spec).items()}

    def group(self, group_id: str, departments: Iterable[str], families: Iterable[str]) -> Group:
        """The group with every input partition's offsets; LookupError if there is no such
        group (no member, never an offset committed)."""
        topics = self.topics()
        names = [input_topic(code, family) for code in sorted(departments) for family in families]
        keys = [(name, p) for name in names if name in topics for p in range(topics[name])]
        state, members = self.members(group_id)
        committed = self.committed(group_id)
        if not members and not committed:
            raise LookupError(
                f"no consumer group {group_id!r} at {self.where}: no worker has committed "
                "offsets in it (is PELASTUS_HUB_GROUP_ID the workers' own?)"
            )
        earliest = self.offsets(keys, OffsetSpec.earliest())
        ends = self.offsets(keys, OffsetSpec.latest())
        partitions = tuple(
            Offsets(topic, p, earliest[topic, p], ends[topic, p], committed.get((topic, p)))
            for topic, p in keys
        )
        missing = tuple(name for name in names if name not in topics)
        return Group(group_id, state, tuple(members), partitions, missing)

    def move(self, group_id: str, offsets: Mapping[Key, int]) -> None:
        """Commit these offsets for the group; the broker refuses while it has members."""
        if not offsets:
            return
        partitions = [TopicPartition(t, p, offset) for (t, p), offset in sorted(offsets.items())]
        request = [ConsumerGroupTopicPartitions(group_id, partitions)]
        (future,) = self.admin.alter_consumer_group_offsets(request).values()
        altered = self._result(future, f"moving the offsets of group {group_id}")
        failed = [tp for tp in altered.topic_partitions if tp.error is not None]
        if failed:
            raise BrokerAdminError(
                f"moving the offsets of group {group_id} failed for {len(failed)} partitions, "
                f"e.g. {failed[0].topic}/{failed[0].partition}: {failed[0].error.str()}"
            )

    def delete(self, names: list[str], progress: Callable[[str], None]) -> None:
        """Delete the topics and wait until the broker no longer lists them: a worker that
        started before then would find them and not create them anew."""
        for name, future in self.admin.delete_topics(names).items():
            try:
                future.result(timeout=self.timeout)
            except KafkaException as error:
                # Deleted meanwhile, by another run: gone, as wanted.
                if error.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise BrokerAdminError(
                        f"deleting topic {name} at {self.where} failed: {error.args[0].str()}"
                    ) from None
        progress(f"deleted {', '.join(names)}; waiting until the broker no longer lists them")
        deadline = time.monotonic() + self.timeout
        while listed := sorted(set(names) & set(self.topics())):
            if time.monotonic() > deadline:
                raise BrokerAdminError(
                    f"the broker at {self.where} still lists {', '.join(listed)} "
                    f"{self.timeout:.0f} s after deleting them"
                )
            time.sleep(0.2)
