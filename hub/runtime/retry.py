"""Retrying Kafka operations: which errors pass, how long to wait, how to say what failed.

The departments' Publisher and the simulator retry a bounded number of times and
then report what they could not send; the hub worker retries for as long as an
outage lasts (retrying()), since giving up would stop the national picture.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError, OutOfOrderSequenceNumber

log = logging.getLogger(__name__)
T = TypeVar("T")

# The worker's backoff: short at first, since most failures are a leader moving.
WORKER_BACKOFF_SECONDS = 0.1
WORKER_MAX_BACKOFF_SECONDS = 5.0


def is_retriable(error: BaseException) -> bool:
    """Whether sending again may succeed: a broker away, a leader moving, a timeout."""
    # aiokafka does not mark KafkaTimeoutError retriable, but it is what a broker outage
    # looks like from send(): the partition's batch could not be delivered in time.
    return isinstance(error, KafkaTimeoutError | TimeoutError) or (
        isinstance(error, KafkaError) and error.retriable
    )


def is_resendable(error: BaseException) -> bool:
    """Whether a department's event may go through when sent again by a renewed producer
    (pelastus_hub.clients.RenewableProducer): a retriable error, or the gap an earlier
    failed batch left in the partition's sequence numbers."""
    return is_retriable(error) or isinstance(error, OutOfOrderSequenceNumber)


def retry_delay(retry: int, backoff: float, max_backoff: float) -> float:
    """Seconds to wait before retry number `retry` (1, 2, ...): `backoff`, doubled for
    every further retry, at most `max_backoff`."""
    if retry < 1:
        raise ValueError("retries are numbered from 1")
    # The exponent is capped so that a long outage cannot overflow the float.
    return min(backoff * 2.0 ** min(retry - 1, 64), max_backoff)


def failure_reason(error: BaseException) -> str:
    """An error as one line: its type, and its message when it has one."""
    name, text = type(error).__name__, str(error)
    if not text:
        return name
    # aiokafka's errors name their class already ("[Error 3] UnknownTopicOrPartitionError").
    return text if name in text else f"{name}: {text}"


def worker_delay(retry: int) -> float:
    return retry_delay(retry, WORKER_BACKOFF_SECONDS, WORKER_MAX_BACKOFF_SECONDS)


async def retrying(
    what: str,
    operation: Callable[[], Awaitable[T]],
    on_failure: Callable[[BaseException], None] = lambda error: None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """operation(), again after a growing backoff for as long as it fails with a retriable
    error; the first failure of a run is logged, and the recovery after it."""
    retry = 0
    while True:
        try:
            result = await operation()
        except Exception as error:
            if not is_retriable(error):
                raise
            on_failure(error)
            retry += 1
            if retry == 1:
                log.warning(
                    "%s failed, retrying until the broker answers: %s", what, failure_reason(error)
                )
            await sleep(worker_delay(retry))
            continue
        if retry:
            log.info("%s succeeded after %d retries", what, retry)
        return result
