"""The batch transaction through broker trouble, with a producer stand-in that fails as
aiokafka's transactional producer does. What Kafka does is left to the integration tests."""

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    ProducerFenced,
    TopicAuthorizationFailedError,
)

from pelastus_hub.pipeline.outputs import OutRecord
from pelastus_hub.runtime import retry
from pelastus_hub.runtime.checkpoint import Checkpoint


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "WORKER_BACKOFF_SECONDS", 0.0)


class Broker:
    """What was committed, and the producers made, sharing a script of failures: `refuse`
    errors raised by send(), `fail` errors set on delivery futures, each used once."""

    def __init__(self, refuse: list[Exception] = (), fail: list[Exception] = ()) -> None:
        self.refuse, self.fail = list(refuse), list(fail)
        self.committed: list[tuple[str, Any, Any]] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.producers: list[Producer] = []
        self.log: list[str] = []

    def new_producer(self) -> "Producer":
        self.producers.append(Producer(self))
        return self.producers[-1]


class Producer:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.pending: list[tuple[str, Any, Any]] = []
        self.offsets: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        self.broker.log.append("start")

    async def stop(self) -> None:
        self.broker.log.append("stop")

    async def begin_transaction(self) -> None:
        self.pending, self.offsets = [], {}

    async def send(self, topic: str, value: Any = None, key: Any = None, **_: Any) -> Any:
        if self.broker.refuse:
            raise self.broker.refuse.pop(0)
        return self._future(topic, [(key, value)])

    def create_batch(self) -> Any:
        return Batch()

    async def send_batch(self, batch: "Batch", topic: str, *, partition: int) -> Any:
        if self.broker.refuse:
            raise self.broker.refuse.pop(0)
        return self._future(topic, batch.records)

    async def send_offsets_to_transaction(self, offsets: dict, group_id: str) -> None:
        self.offsets = dict(offsets)

    async def commit_transaction(self) -> None:
        self.broker.committed += self.pending
        self.broker.offsets.update(self.offsets)
        self.broker.log.append("commit")

    async def abort_transaction(self) -> None:
        self.broker.log.append("abort")

    def _future(self, topic: str, records: list[tuple[Any, Any]]) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        if self.broker.fail:
            future.set_exception(self.broker.fail.pop(0))
        else:
            self.pending += [(topic, key, value) for key, value in records]
            self.broker.log.append(f"ack {topic}")
            future.set_result(None)
        return future


class Batch:
    def __init__(self) -> None:
        self.records: list[tuple[Any, Any]] = []

    def append(self, key: Any, value: Any, timestamp: None) -> object:
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


RECORDS = [
    OutRecord("hub.dead-letter", b"k1", b"v1"),
    OutRecord("feedback.lappi", b"k1", b"f1"),
    OutRecord("hub.state.unit-status", b"lappi/U1", b"s1", partition=0),
    OutRecord("hub.state.unit-status", b"lappi/U2", b"s2", partition=0),
]
SENT = sorted((r.topic, r.key, r.value) for r in RECORDS)
OFFSETS = {TopicPartition("dept.lappi.unit-status", 0): 8}


async def checkpoint(broker: Broker, failures: list | None = None) -> Checkpoint:
    failed = failures if failures is not None else []
    done = Checkpoint(broker.new_producer, "pelastus-hub", failed.append)
    await done.start()
    return done


async def test_outputs_and_offsets_commit_together_once() -> None:
    broker = Broker()
    await (await checkpoint(broker)).commit(RECORDS, OFFSETS)
    assert sorted(broker.committed) == SENT and broker.offsets == OFFSETS
    assert broker.log[-1] == "commit"


async def test_a_transaction_that_fails_is_tried_again_whole_and_commits_once() -> None:
    failures: list[BaseException] = []
    broker = Broker(refuse=[KafkaTimeoutError()], fail=[NotLeaderForPartitionError()])
    await (await checkpoint(broker, failures)).commit(RECORDS, OFFSETS)
    assert sorted(broker.committed) == SENT and broker.offsets == OFFSETS
    assert broker.log.count("abort") == 2 and broker.log.count("commit") == 1
    assert len(failures) == 2


async def test_a_transaction_the_broker_ended_goes_on_with_a_new_producer() -> None:
    broker = Broker(fail=[ProducerFenced()])
    await (await checkpoint(broker)).commit(RECORDS, OFFSETS)
    assert len(broker.producers) == 2  # the first one stopped, a new epoch
    assert sorted(broker.committed) == SENT


async def test_a_dead_letter_refused_as_too_large_goes_as_its_smaller_stand_in() -> None:
    smaller = OutRecord("hub.dead-letter", None, b"", [("hub.error.value_omitted", b"9 bytes")])
    big = OutRecord("hub.dead-letter", b"k", b"x" * 9, smaller=smaller)
    for broker in (
        Broker(refuse=[MessageSizeTooLargeError()]),
        Broker(fail=[MessageSizeTooLargeError()]),
    ):
        await (await checkpoint(broker)).commit([big, *RECORDS[1:]], OFFSETS)
        assert ("hub.dead-letter", None, b"") in broker.committed
        assert ("hub.dead-letter", b"k", b"x" * 9) not in broker.committed


async def test_an_error_no_retry_mends_is_raised_and_nothing_commits() -> None:
    broker = Broker(fail=[TopicAuthorizationFailedError()])
    with pytest.raises(TopicAuthorizationFailedError):
        await (await checkpoint(broker)).commit(RECORDS, OFFSETS)
    broker = Broker(refuse=[MessageSizeTooLargeError()])
    with pytest.raises(MessageSizeTooLargeError):  # no stand-in: not a dead letter
        await (await checkpoint(broker)).commit(RECORDS[1:2], OFFSETS)
    assert broker.committed == [] and broker.offsets == {}
