"""The batch transaction through broker trouble, with stand-in Kafka clients whose producer
fails as aiokafka's transactional producer does. What Kafka does is left to the integration
tests."""

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    ProducerFenced,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from pelastus_hub.pipeline.outputs import OutRecord
from pelastus_hub.runtime import checkpoint as checkpoint_module
from pelastus_hub.runtime import retry
from pelastus_hub.runtime.checkpoint import Checkpoint, Written
from pelastus_hub.settings import HubSettings
from tests.unit.fakes import FakeKafka, FakeProducer


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "WORKER_BACKOFF_SECONDS", 0.0)


RECORDS = [
    OutRecord("hub.dead-letter", b"k1", b"v1"),
    OutRecord("feedback.lappi", b"k1", b"f1"),
    OutRecord("hub.state.unit-status", b"lappi/U1", b"s1", partition=0),
    OutRecord("hub.state.unit-status", b"lappi/U2", b"s2", partition=0),
]
SENT = sorted((r.topic, r.key, r.value) for r in RECORDS)
OFFSETS = {TopicPartition("dept.lappi.unit-status", 0): 8}
SETTINGS = HubSettings(worker_instance="w1", transaction_timeout_seconds=30)


async def checkpoint(kafka: FakeKafka, failures: list | None = None) -> Checkpoint:
    failed = failures if failures is not None else []
    done = Checkpoint(kafka, SETTINGS, failed.append)
    await done.start()
    return done


def committed(kafka: FakeKafka) -> list[tuple]:
    return sorted((r.topic, r.key, r.value) for r in kafka.written)


async def test_outputs_and_offsets_commit_together_once() -> None:
    kafka = FakeKafka()
    written = await (await checkpoint(kafka)).commit(RECORDS, OFFSETS)
    assert committed(kafka) == SENT and kafka.offsets == {"pelastus-hub": OFFSETS}
    assert kafka.log == ["start", "commit"]
    # The changelog's two went in one record batch, the fake's third send: offset 2.
    changelog = TopicPartition("hub.state.unit-status", 0)
    assert written == [Written(changelog, 2, 2)]


async def test_changelog_records_keep_their_headers_in_their_record_batch() -> None:
    kafka = FakeKafka()
    header = [("hub.state.format", b"1")]
    state = OutRecord("hub.state.unit-status", b"lappi/U1", b"s1", header, partition=0)
    await (await checkpoint(kafka)).commit([state], OFFSETS)
    assert [r.headers for r in kafka.written] == [header]


async def test_each_new_producer_learns_the_topics_written_as_it_starts() -> None:
    kafka = FakeKafka(fail={0: ProducerFenced()})
    names = ("hub.dead-letter", "feedback.lappi")
    done = Checkpoint(kafka, SETTINGS, topics=names)
    await done.start()
    await done.commit(RECORDS, OFFSETS)  # fenced: a new producer goes on with the batch
    assert kafka.log.count("start") == 2 and kafka.learnt == [*names, *names]


@pytest.mark.parametrize("answer", ["never", "unknown"])
async def test_a_topic_not_learnt_does_not_keep_the_producer_from_starting(
    monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    async def partitions_for(producer: FakeProducer, topic: str) -> set[int]:
        if answer == "unknown":
            raise UnknownTopicOrPartitionError()
        await asyncio.Event().wait()  # as aiokafka waits for a topic the broker lacks
        return set()

    monkeypatch.setattr(FakeProducer, "partitions_for", partitions_for)
    monkeypatch.setattr(checkpoint_module, "LEARN_TOPICS_SECONDS", 0.01)
    kafka = FakeKafka()
    done = Checkpoint(kafka, SETTINGS, topics=["feedback.no-such-department"])
    # Bounded so that a start that waited for the topic fails rather than hangs.
    await asyncio.wait_for(done.start(), 30)
    await done.commit(RECORDS, OFFSETS)
    assert committed(kafka) == SENT


async def test_the_producer_is_this_workers_own_and_writes_within_the_limit() -> None:
    kafka = FakeKafka()
    await checkpoint(kafka)
    assert kafka.producers[0].config == {
        "transactional_id": "pelastus-hub-batches-w1",
        "transaction_timeout_ms": 30000,
        "linger_ms": 2,
        "max_request_size": SETTINGS.max_record_bytes,
        "max_batch_size": 256 * 1024,
    }


async def test_record_batches_stay_within_the_message_limit() -> None:
    kafka = FakeKafka()
    small = SETTINGS.model_copy(update={"max_message_bytes": 64 * 1024})
    await Checkpoint(kafka, small).start()
    assert kafka.producers[0].config["max_batch_size"] == 64 * 1024


async def test_a_transaction_that_fails_is_tried_again_whole_and_commits_once() -> None:
    failures: list[BaseException] = []
    kafka = FakeKafka(refuse={0: KafkaTimeoutError()}, fail={1: NotLeaderForPartitionError()})
    await (await checkpoint(kafka, failures)).commit(RECORDS, OFFSETS)
    assert committed(kafka) == SENT and kafka.offsets == {"pelastus-hub": OFFSETS}
    assert kafka.log.count("abort") == 2 and kafka.log.count("commit") == 1
    assert len(failures) == 2


async def test_a_transaction_the_broker_ended_goes_on_with_a_new_producer() -> None:
    kafka = FakeKafka(fail={0: ProducerFenced()})
    await (await checkpoint(kafka)).commit(RECORDS, OFFSETS)
    assert len(kafka.producers) == 2  # the first one stopped, a new epoch
    assert committed(kafka) == SENT


async def test_a_dead_letter_refused_as_too_large_goes_as_its_smaller_stand_in() -> None:
    smaller = OutRecord("hub.dead-letter", None, b"", [("hub.error.value_omitted", b"9 bytes")])
    big = OutRecord("hub.dead-letter", b"k", b"x" * 9, smaller=smaller)
    for kafka in (
        FakeKafka(refuse={0: MessageSizeTooLargeError()}),
        FakeKafka(fail={0: MessageSizeTooLargeError()}),
    ):
        await (await checkpoint(kafka)).commit([big, *RECORDS[1:]], OFFSETS)
        assert ("hub.dead-letter", None, b"") in committed(kafka)
        assert ("hub.dead-letter", b"k", b"x" * 9) not in committed(kafka)


async def test_an_error_no_retry_mends_is_raised_and_nothing_commits() -> None:
    kafka = FakeKafka(fail={0: TopicAuthorizationFailedError()})
    with pytest.raises(TopicAuthorizationFailedError):
        await (await checkpoint(kafka)).commit(RECORDS, OFFSETS)
    kafka = FakeKafka(refuse={0: MessageSizeTooLargeError()})
    with pytest.raises(MessageSizeTooLargeError):  # no stand-in: not a dead letter
        await (await checkpoint(kafka)).commit(RECORDS[1:2], OFFSETS)
    assert kafka.written == [] and kafka.offsets == {}
