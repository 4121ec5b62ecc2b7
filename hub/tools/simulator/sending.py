"""Sending simulated traffic to Kafka at a rate, resending what the brokers did not take."""

import asyncio
import itertools
import math
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from pelastus_hub.clients import ConnectFailed, KafkaClients, RenewableProducer
from pelastus_hub.contract.registry import Registry
from pelastus_hub.runtime.retry import failure_reason, is_resendable, retry_delay
from pelastus_hub.settings import HubSettings, read_secret
from pelastus_hub.tools.simulator.message import Message
from pelastus_hub.tools.simulator.oracle import ground_truth
from pelastus_hub.tools.simulator.traffic import generate

BURST_INTERVAL = 0.01  # seconds between sending bursts when keeping up
MAX_BURST = 2000  # keeps progress lines and the duration check timely when behind
STOP_FLUSH_SECONDS = 15.0  # the longest a stop waits for the brokers to take what is pending


def department_clients(settings: HubSettings, code: str, credentials_dir: Path) -> KafkaClients:
    """A department's connection: the settings' broker and TLS, the department's own user."""
    if not settings.sasl_mechanism:
        raise ConnectFailed(
            f"departments log in as themselves only over SASL: {settings.security_protocol} "
            "has no login (set PELASTUS_HUB_SECURITY_PROTOCOL=SASL_SSL and "
            "PELASTUS_HUB_SASL_MECHANISM)"
        )
    path = credentials_dir / f"{code}.password"
    try:
        password = read_secret(path)
    except OSError as error:
        raise ConnectFailed(f"no password for department {code}: {error}") from None
    if not password:
        raise ConnectFailed(f"no password for department {code}: {path} is empty")
    login = {"sasl_username": code, "sasl_password": SecretStr(password)}
    return KafkaClients.from_settings(settings.model_copy(update=login))


def _by_kind(counts: Counter[str], group: bool = False) -> str:
    # Progress lines lump the invalid reasons together, to stay short enough to read.
    shown: Counter[str] = Counter()
    for kind, n in counts.items():
        shown[kind.partition(":")[0] if group else kind] += n
    return ", ".join(f"{kind} {n}" for kind, n in sorted(shown.items())) or "nothing"


@dataclass(eq=False, slots=True)
class _Delivery:
    message: Message
    number: int  # its place in the sending order, which resends keep
    attempts: int = 0
    error: BaseException | None = None  # of the latest attempt
    delivered: bool = False
    # The producer that took the latest attempt, with the renewable one it came from.
    via: tuple[RenewableProducer, AIOKafkaProducer] | None = None


class _Sender:
    """Hands messages to the producer in order, and resends those the brokers did not take.

    recover() resends only once everything sent before has settled, and nothing new is
    sent meanwhile: resends go out in the original order and after all older messages,
    so each key's messages stay in order as far as aiokafka keeps them (its idempotent
    producer resends a batch it has taken by itself, in order, until the brokers take it).
    A producer that took a message which then failed is renewed before the resends.
    """

    def __init__(
        self,
        producer_of: Callable[[str], RenewableProducer],
        retries: int,
        backoff: float,
        max_backoff: float,
        progress: Callable[[str], None],
        keep: bool,
    ) -> None:
        self.producer_of, self.progress = producer_of, progress
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.numbers = itertools.count()
        self.in_flight: dict[asyncio.Future[Any], _Delivery] = {}
        self.failed: list[_Delivery] = []  # failed, to be resent or given up on
        self.waiting: deque[_Delivery] = deque()  # to be resent, in the sending order
        self.lost: Counter[str] = Counter()  # messages given up on, by reason
        self.kept: list[_Delivery] | None = [] if keep else None  # for the ground truth

    async def send(self, message: Message) -> None:
        delivery = _Delivery(message, next(self.numbers))
        if self.kept is not None:
            self.kept.append(delivery)
        await self._attempt(delivery)

    async def _attempt(self, delivery: _Delivery) -> None:
        delivery.attempts += 1
        msg = delivery.message
        renewable = self.producer_of(msg.topic)
        try:
            producer = await renewable.ready()
            # aiokafka's compiled record builder takes headers as a list only.
            future = await producer.send(msg.topic, msg.value, msg.key, headers=list(msg.headers))
        # The producer could not take it: for request_timeout_ms it had no partitions for
        # the topic, or the partition's batch stayed full; or a new producer could not
        # connect.
        except KafkaError as error:
            delivery.error = error
            self.failed.append(delivery)
            return
        delivery.via = (renewable, producer)
        self.in_flight[future] = delivery
        future.add_done_callback(self._settled)

    def _settled(self, future: asyncio.Future[Any]) -> None:
        delivery = self.in_flight.pop(future, None)
        if delivery is None:
            return  # close() has already counted it
        if future.cancelled():
            delivery.error = asyncio.CancelledError("the delivery was cancelled")
        elif (error := future.exception()) is not None:
            delivery.error = error
            if delivery.via is not None:
                # Sent, so numbered: the partition's later batches would fail after it.
                delivery.via[0].failed(delivery.via[1])
        else:
            delivery.delivered = True
            return
        self.failed.append(delivery)

    async def recover(self) -> None:
        """Wait until every message sent is delivered or given up on, resending the failed."""
        while True:
            if self.in_flight:
                if self.failed:
                    self.progress(
                        f"sending paused ({failure_reason(self.failed[-1].error)}): waiting "
                        f"for {len(self.in_flight)} messages in flight"
                    )
                await asyncio.wait(list(self.in_flight))
            if not self.failed and not self.waiting:
                return
            unsent = sorted([*self.failed, *self.waiting], key=lambda d: d.number)
            self.failed.clear()
            self.waiting.clear()
            for delivery in unsent:
                if delivery.attempts <= self.retries and is_resendable(delivery.error):
                    self.waiting.append(delivery)
                else:
                    self.lost[failure_reason(delivery.error)] += 1
            if not self.waiting:
                continue
            attempt = max(delivery.attempts for delivery in self.waiting)
            delay = retry_delay(attempt, self.backoff, self.max_backoff)
            self.progress(
                f"resending {len(self.waiting)} in {delay:g} s (retry {attempt} of "
                f"{self.retries}): {failure_reason(self.waiting[-1].error)}"
            )
            await asyncio.sleep(delay)
            # One at a time off the queue, so that a stop midway finds the rest still in it.
            # After a failure the rest wait for the next round, keeping their order.
            while self.waiting and not self.failed:
                await self._attempt(self.waiting[0])
                self.waiting.popleft()

    def close(self) -> None:
        """Give up on what is unsettled once the producer has stopped."""
        for future in list(self.in_flight):
            if future.done():
                self._settled(future)
        if self.in_flight:
            self.lost["not acknowledged before stopping"] += len(self.in_flight)
            self.in_flight.clear()
        self.lost.update(failure_reason(d.error) for d in (*self.failed, *self.waiting))
        self.failed.clear()
        self.waiting.clear()

    def delivered(self) -> list[Message]:
        return [d.message for d in self.kept or () if d.delivered]

    def lost_text(self) -> str:
        """How many messages could not be sent, and why; empty when none."""
        if not self.lost:
            return ""
        reasons = self.lost.most_common()
        why = "; ".join(f"{reason} ({n})" for reason, n in reasons)
        if len(reasons) == 1:
            why = reasons[0][0]
        return f"; {self.lost.total()} could not be sent: {why}"


async def run(
    settings: HubSettings,
    registry: Registry,
    *,
    seed: int,
    rate: float,
    duration: float | None,
    count: int | None,
    invalid_share: float,
    duplicate_share: float,
    out_of_order_share: float,
    binary_share: float,
    progress: Callable[[str], None],
    truth: Path | None = None,
    send_retries: int = 5,
    retry_backoff: float = 0.5,
    max_retry_backoff: float = 10.0,
    producer_options: dict[str, Any] | None = None,
    clients: KafkaClients | None = None,
    credentials_dir: Path | None = None,
) -> Counter[str]:
    """Produce simulated traffic at `rate` messages a second until `duration` seconds or
    `count` messages, whichever comes first (neither: until cancelled); counts by kind.
    With `truth`, also write the ground truth of the messages delivered there (JSON), at
    the end, also when cancelled.

    A message the brokers did not take for a retriable reason
    (pelastus_hub.runtime.retry.is_resendable) is sent again up to `send_retries` times,
    after `retry_backoff` seconds doubled for every further retry up to
    `max_retry_backoff`; no newer message is sent meanwhile. One the brokers wrote as
    they went down, its acknowledgement lost, so arrives twice.
    One that still fails is counted and reported, not fatal. `producer_options` are
    further AIOKafkaProducer arguments (e.g. request_timeout_ms); `clients` makes the
    producer (by default of the settings' connection). With `credentials_dir`, each
    department sends with a producer of its own, logged in as its own user (its code),
    with the password in <credentials_dir>/<code>.password.
    """
    if send_retries < 0 or retry_backoff < 0 or max_retry_backoff < 0:
        raise ValueError("send retries and retry backoffs cannot be negative")
    shares = (invalid_share, duplicate_share, out_of_order_share, binary_share)
    messages = generate(registry, seed, datetime.now(UTC), rate, *shares)
    total = math.inf if count is None else count
    if duration is not None:
        total = min(total, math.ceil(duration * rate))
    counts: Counter[str] = Counter()
    # As the departments' Publisher: acks and idempotence are not options.
    options = {"linger_ms": 5, **(producer_options or {}), "acks": "all"}
    if credentials_dir is None:
        shared = clients or KafkaClients.from_settings(settings)
        connections = dict.fromkeys(registry.codes, shared)
    else:
        connections = {
            code: department_clients(settings, code, credentials_dir)
            for code in sorted(registry.codes)
        }
    # One producer per connection: all departments share one unless each has its own.
    unique = {id(c): c for c in connections.values()}
    made = {key: RenewableProducer(c, "to the brokers", **options) for key, c in unique.items()}
    producers = {code: made[id(c)] for code, c in connections.items()}
    sender = _Sender(
        lambda topic: producers[topic.split(".")[1]],
        send_retries,
        retry_backoff,
        max_retry_backoff,
        progress,
        truth is not None,
    )

    loop = asyncio.get_running_loop()
    began = loop.time()  # with the simulated clock: time spent connecting is caught up
    next_report, sent, finished = began + 1, 0, False
    try:
        for producer in made.values():  # in the try: a failed start is closed too
            await producer.start()
        while sent < total:
            now = loop.time()
            # Message i is due at began + i / rate: send all that are due in one burst.
            due = min(int((now - began) * rate) + 1, sent + MAX_BURST, total)
            while sent < due and not sender.failed:
                message = next(messages)
                await sender.send(message)
                counts[message.kind] += 1
                sent += 1
            if sender.failed:
                await sender.recover()
                continue  # due again, from the time now
            if duration is not None and now - began >= duration:
                break  # behind schedule: the duration still wins
            if now >= next_report:
                pace = sent / (now - began)
                kinds = _by_kind(counts, group=True)
                progress(f"{sent} sent, {pace:.0f}/s; {kinds}{sender.lost_text()}")
                next_report = now + 1
            delay = began + sent / rate - loop.time()
            await asyncio.sleep(min(max(delay, BURST_INTERVAL), 1.0) if delay > 0 else 0)
        await sender.recover()
        finished = True
    finally:
        try:
            # aiokafka resends a batch it has taken until the brokers acknowledge it, so
            # stopping during an outage would wait for the broker to come back.
            async with asyncio.timeout(STOP_FLUSH_SECONDS):
                # Each flushes whatever is still pending.
                await asyncio.gather(*(producer.stop() for producer in made.values()))
        except TimeoutError:
            progress(f"the brokers did not take the last messages in {STOP_FLUSH_SECONDS:g} s")
        sender.close()
        elapsed, total_sent = max(loop.time() - began, 1e-9), counts.total()
        summary = f"{total_sent} messages in {elapsed:.1f} s ({total_sent / elapsed:.0f}/s)"
        state = "done" if finished else "stopped"
        progress(f"{state}: {summary}; {_by_kind(counts)}{sender.lost_text()}")
        if truth is not None:
            delivered = sender.delivered()
            truth.write_bytes(orjson.dumps(ground_truth(delivered), option=orjson.OPT_INDENT_2))
            progress(f"ground truth of the {len(delivered)} messages delivered written to {truth}")
    return counts
