"""Delivery through broker trouble, with a producer stand-in that fails as aiokafka's does."""

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)

from hub import retry
from hub.delivery import Delivery
from hub.outputs import OutRecord


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "WORKER_BACKOFF_SECONDS", 0.0)


class Producer:
    """Takes records, failing as told: `refuse` errors raised by send(), `fail` errors set
    on the delivery futures, each used once, in order."""

    def __init__(self, refuse: list[Exception] = (), fail: list[Exception] = ()) -> None:
        self.refuse, self.fail = list(refuse), list(fail)
        self.delivered: list[tuple[str, Any, Any]] = []

    async def send(self, topic: str, value: Any = None, key: Any = None, **_: Any) -> Any:
        if self.refuse:
            raise self.refuse.pop(0)
        return self._future(topic, [(key, value)])

    def create_batch(self) -> Any:
        return Batch()

    async def send_batch(self, batch: "Batch", topic: str, partition: int) -> Any:
        if self.refuse:
            raise self.refuse.pop(0)
        return self._future(topic, batch.records)

    def _future(self, topic: str, records: list[tuple[Any, Any]]) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(self.fail.pop(0))
        else:
            self.delivered += [(topic, key, value) for key, value in records]
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


async def test_everything_is_delivered_once_when_all_goes_well() -> None:
    producer = Producer()
    await Delivery(producer).send(RECORDS)
    assert sorted(producer.delivered) == sorted((r.topic, r.key, r.value) for r in RECORDS)


async def test_a_producer_that_cannot_take_records_is_offered_them_again() -> None:
    failures: list[BaseException] = []
    producer = Producer(refuse=[KafkaTimeoutError(), KafkaTimeoutError(), KafkaTimeoutError()])
    await Delivery(producer, failures.append).send(RECORDS)
    assert sorted(producer.delivered) == sorted((r.topic, r.key, r.value) for r in RECORDS)
    assert len(failures) == 3


async def test_a_failed_delivery_is_sent_again_and_only_it() -> None:
    producer = Producer(fail=[NotLeaderForPartitionError()])
    await Delivery(producer).send(RECORDS)
    assert sorted(producer.delivered) == sorted((r.topic, r.key, r.value) for r in RECORDS)


async def test_a_dead_letter_refused_as_too_large_goes_as_its_smaller_stand_in() -> None:
    smaller = OutRecord("hub.dead-letter", None, b"", [("hub.error.value_omitted", b"9 bytes")])
    big = OutRecord("hub.dead-letter", b"k", b"x" * 9, smaller=smaller)
    for producer in (
        Producer(refuse=[MessageSizeTooLargeError()]),
        Producer(fail=[MessageSizeTooLargeError()]),
    ):
        await Delivery(producer).send([big])
        assert producer.delivered == [("hub.dead-letter", None, b"")]


async def test_an_error_no_retry_mends_is_raised() -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await Delivery(Producer(fail=[TopicAuthorizationFailedError()])).send(RECORDS)
    with pytest.raises(MessageSizeTooLargeError):  # no stand-in: not a dead letter
        await Delivery(Producer(refuse=[MessageSizeTooLargeError()])).send(RECORDS[1:2])
