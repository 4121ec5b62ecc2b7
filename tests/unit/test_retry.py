"""Which errors are retried, how long between tries, and the worker's unbounded retry."""

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from pelastus_hub.runtime.retry import failure_reason, is_retriable, retry_delay, retrying

TOPIC = "dept.pirkanmaa.unit-status"


def test_retry_delays_double_up_to_the_maximum() -> None:
    assert [retry_delay(n, 0.5, 10.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert retry_delay(10_000, 0.5, 10.0) == 10.0  # a long outage does not overflow
    assert retry_delay(3, 0.0, 10.0) == 0.0
    with pytest.raises(ValueError, match="numbered from 1"):
        retry_delay(0, 0.5, 10.0)


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (KafkaTimeoutError(), True),  # not marked retriable by aiokafka, but an outage
        (KafkaConnectionError("Unable to bootstrap"), True),
        (UnknownTopicOrPartitionError(), True),
        (NotLeaderForPartitionError(), True),
        (RequestTimedOutError(), True),
        (TopicAuthorizationFailedError(TOPIC), False),
        (MessageSizeTooLargeError(), False),
        (ConnectionError("not an aiokafka error"), False),
    ],
)
def test_which_errors_are_retried(error: Exception, retriable: bool) -> None:
    assert is_retriable(error) is retriable


def test_failure_reasons_name_the_error_once() -> None:
    assert failure_reason(KafkaTimeoutError()) == "KafkaTimeoutError"
    assert (
        failure_reason(UnknownTopicOrPartitionError()) == "[Error 3] UnknownTopicOrPartitionError"
    )
    assert failure_reason(ConnectionError("no broker")) == "ConnectionError: no broker"


async def test_retrying_gives_up_only_on_errors_that_do_not_pass() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise KafkaTimeoutError()
        return "done"

    async def no_sleep(seconds: float) -> None:
        pass

    assert await retrying("test", flaky, sleep=no_sleep) == "done"
    assert len(calls) == 4

    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await retrying("test", broken, sleep=no_sleep)
