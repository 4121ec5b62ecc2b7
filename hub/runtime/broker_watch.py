"""Whether the broker answers, for /readyz.

Probed on a timer with a metadata request: in an outage the worker's clients
mostly wait (the idempotent producer and offset commits retry on their own)
rather than fail, so their errors alone would tell too late, or never.
"""

import asyncio
import logging
import time

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from pelastus_hub.clients import KafkaClients
from pelastus_hub.runtime.retry import failure_reason

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 5.0
NOT_PROBED = "not probed yet"


class BrokerWatch:
    def __init__(self, clients: KafkaClients) -> None:
        self.clients = clients
        self.reachable = False
        self.problem: str | None = NOT_PROBED
        self._since = time.monotonic()
        self._client: AIOKafkaClient | None = None

    @property
    def for_seconds(self) -> float:
        """How long the broker has been reachable, or not."""
        return time.monotonic() - self._since

    async def probe(self) -> bool:
        try:
            if self._client is None:
                self._client = await self._bootstrapped()
            metadata = await asyncio.wait_for(
                self._client.fetch_all_metadata(), PROBE_TIMEOUT_SECONDS
            )
            if not metadata.brokers():
                raise KafkaError("the cluster metadata lists no brokers")
        except (KafkaError, OSError, TimeoutError) as error:
            self.failed(error)
            return False
        if not self.reachable:
            log.info("the broker answers again after %.1f s", self.for_seconds)
            self.reachable, self.problem, self._since = True, None, time.monotonic()
        return True

    async def _bootstrapped(self) -> AIOKafkaClient:
        client = self.clients.client(request_timeout_ms=int(PROBE_TIMEOUT_SECONDS * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), PROBE_TIMEOUT_SECONDS)
        except BaseException:
            await client.close()
            raise
        return client

    def failed(self, error: BaseException) -> None:
        """Told by the probe, or by an operation that failed for want of the broker."""
        reason = failure_reason(error)
        if reason.startswith("KafkaConnectionError: Unable to bootstrap from"):
            reason = "no connection (refused, or no answer in time)"  # not its address tuples
        if self.reachable or self.problem == NOT_PROBED:
            # Once per outage, and once if it never answered since the start.
            log.warning(
                "the Kafka broker does not answer at %s: %s; retrying until it does",
                self.clients.options["bootstrap_servers"],
                reason,
            )
            self.reachable, self._since = False, time.monotonic()
        self.problem = f"broker unreachable: {reason}"[:300]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
