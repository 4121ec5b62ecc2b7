"""Simulated traffic from every registry department: unit statuses, incidents, readiness.

generate() is pure, so a (registry, seed, start, rate, shares) always yields the same bytes
and tests can predict the hub's unit states with final_states(). Valid messages are built by the
departments' own Publisher, which checks each with the hub's rules; bad ones are spoiled by
hand. run() produces it all to Kafka.
"""

import asyncio
import itertools
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from pelastus_hub.client.publisher import Publisher
from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.envelope import STRUCTURED_CONTENT_TYPE
from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import input_topic
from pelastus_hub.runtime.retry import failure_reason, is_retriable, retry_delay
from pelastus_hub.settings import HubSettings
from pelastus_hub.state.store import DEDUP_WINDOW, entity_key
from pelastus_hub.tools.simulated_world import (
    AT_STATION,
    Department,
    Incident,
    Unit,
    build_departments,
    near,
    open_incident,
)

STRUCTURED_HEADERS = (("content-type", STRUCTURED_CONTENT_TYPE.encode()),)
# _bad() spoils a message so that the hub rejects it for exactly its reason, for every
# reason but the size limits, which depend on settings.
BAD_KINDS = tuple(
    reason for reason in Reason if reason not in (Reason.VALUE_TOO_LARGE, Reason.HEADERS_TOO_LARGE)
)
# Deeper than the hub's JSON parser goes: too deep whatever the depth limit is set to.
TOO_DEEP = 1100
# A unit tied up by an incident (or driving back from one) moves along this flow.
COMMITTED = ("dispatched", "en_route", "on_scene", "available")
NEXT_STATUS = dict(zip(COMMITTED, (*COMMITTED[1:], "available_at_station"), strict=True))
# Chances of a fleet step; else a committed unit advances.
OPEN_INCIDENT, TOGGLE_SERVICE, READINESS_CHANGE = 0.1, 0.03, 0.05
OPENING_ATTRIBUTES = ("incident_type", "urgency", "municipality_code", "risk_class", "grid_square")
BURST_INTERVAL = 0.01  # seconds between sending bursts when keeping up
MAX_BURST = 2000  # keeps progress lines and the duration check timely when behind
STOP_FLUSH_SECONDS = 15.0  # the longest a stop waits for the brokers to take what is pending


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    kind: str  # "valid", "duplicate", "out_of_order" or "invalid:<reason code>"
    family: str = "unit-status"
    # The hub's key of its entity ("<department>/<unit_id>", ...), except for invalid messages
    entity_key: str | None = None


class _Simulation:
    def __init__(self, registry: Registry, seed: int, rate: float, shares: tuple[float, ...]):
        self.rng, self.rate, self.shares, self.binary = random.Random(seed), rate, shares, shares[3]
        self.departments = build_departments(registry, self.rng)
        self.units = [u for d in self.departments for u in d.units]
        settings = HubSettings()
        self.publishers = {
            d.code: Publisher(
                d.code,
                source=f"/pelastuslaitos/{d.code}/simulator",
                settings=settings,
                registry=registry,
            )
            for d in self.departments
        }
        # Insertion-ordered, so random choices from it stay deterministic.
        self.committed: dict[Unit, None] = {}
        self.pending: deque[tuple[Unit, str, Incident | None]] = deque()
        # Incident and readiness events due, sent before the fleet moves on:
        # (department, family, data), the time in the data being when it happened.
        self.outbox: deque[tuple[Department, str, dict[str, Any]]] = deque()
        # Resent from here only: an older message may have left the hub's duplicate window.
        self.sent: deque[Message] = deque(maxlen=DEDUP_WINDOW)
        # Units' recent messages, replayed out of order with an older event time.
        self.recent: deque[tuple[Unit, Message]] = deque(maxlen=DEDUP_WINDOW)

    def messages(self, start: datetime) -> Iterator[Message]:
        rng = self.rng
        # Round-robin over the departments, so that every one of them has units early on;
        # then each station's readiness.
        rows = itertools.zip_longest(*(d.units for d in self.departments))
        units = deque(u for row in rows for u in row if u is not None)
        stations = deque(s for d in self.departments for s in d.stations)
        bad_kinds = itertools.cycle(BAD_KINDS)
        # One roll decides each message's kind, against these cumulative shares.
        invalid, duplicate, out_of_order = itertools.accumulate(self.shares[:3])
        # Incident events held back, as from a terminal offline for a while: (due, message).
        held: deque[tuple[int, Message]] = deque()
        i = 0  # the number of messages sent: message i is sent at start + i / rate
        while True:
            clock = start + timedelta(microseconds=round(i * 1_000_000 / self.rate))
            roll = rng.random()
            if held and held[0][0] <= i:
                message = held.popleft()[1]
            elif roll < invalid:
                message = self._bad(next(bad_kinds), clock)
            elif roll < duplicate and self.sent:
                message = replace(rng.choice(self.sent), kind="duplicate")
            elif roll < out_of_order and self.recent:
                message = self._out_of_order(rng.choice(self.recent)[0], clock)
            elif self.outbox:
                department, family, data = self.outbox.popleft()
                message = self._valid(department, family, data, clock, "valid")
                if family == "incident" and out_of_order > duplicate and rng.random() < 0.1:
                    # Sent later than events that happened after it: a valid event still.
                    held.append((i + rng.randint(2, 40), message))
                    continue  # message i is still to come
            elif units:
                message = self._unit_status(units.popleft(), clock)
            elif stations:
                station = stations.popleft()
                data = station.readiness(clock.isoformat())
                message = self._valid(station.department, "readiness", data, clock, "valid")
            else:
                message = self._unit_status(self._step(clock), clock)
            if message.kind == "valid":  # duplicates copy what was sent, once it was
                self.sent.append(message)
            yield message
            i += 1

    def _unit_status(self, unit: Unit, clock: datetime) -> Message:
        data = self._data(unit, clock.isoformat())
        unit.sent.append((clock, data))
        message = self._valid(unit.department, "unit-status", data, clock, "valid")
        self.recent.append((unit, message))
        return message

    def _step(self, clock: datetime) -> Unit:
        """Move the world on until a unit changes status; return that unit."""
        rng = self.rng
        while not self.pending:
            roll = rng.random()
            if roll < OPEN_INCIDENT:
                self._open_incident(clock)
            elif roll < OPEN_INCIDENT + READINESS_CHANGE:
                station = rng.choice(rng.choice(self.departments).stations)
                station.change(rng)
                self.outbox.append(
                    (station.department, "readiness", station.readiness(clock.isoformat()))
                )
            elif roll < OPEN_INCIDENT + READINESS_CHANGE + TOGGLE_SERVICE or not self.committed:
                unit = rng.choice(self.units)
                if unit.status in ("out_of_service", "reserved"):
                    self.pending.append((unit, "available_at_station", None))
                elif unit.status == "available_at_station" and rng.random() < 0.2:
                    status = "out_of_service" if rng.random() < 0.75 else "reserved"
                    self.pending.append((unit, status, None))
            else:
                unit = rng.choice(list(self.committed))
                status = NEXT_STATUS[unit.status]  # clearing the scene ends its part
                incident = None if status == "available" else unit.incident
                self.pending.append((unit, status, incident))
        unit, status, incident = self.pending.popleft()
        self._incident_news(unit, status, incident, clock)
        unit.status, unit.incident = status, incident
        if status == "en_route" and incident is not None:
            (lat, lon), (to_lat, to_lon) = unit.position, incident.position
            unit.position = (round((lat + to_lat) / 2, 5), round((lon + to_lon) / 2, 5))
        elif status == "on_scene" and incident is not None:
            unit.position = incident.position
        elif status in AT_STATION:
            unit.position = unit.home
        self.committed.pop(unit, None)
        if status in COMMITTED:
            self.committed[unit] = None
        return unit

    def _incident_news(
        self, unit: Unit, status: str, incident: Incident | None, clock: datetime
    ) -> None:
        """The incident events of a unit's new status: dispatched, on scene, and closed
        once the last of the incident's units has cleared the scene."""
        if status in ("dispatched", "on_scene") and incident is not None:
            incident.committed += status == "dispatched"
            self._tell(incident, {"event": f"unit_{status}", "unit_id": unit.unit_id}, clock)
        elif status == "available" and (cleared := unit.incident) is not None:
            cleared.committed -= 1
            if not cleared.committed:
                self._tell(cleared, {"event": "closed"}, clock)

    def _tell(self, incident: Incident, event: dict[str, Any], clock: datetime) -> None:
        data = {
            "department": incident.department.code,
            "incident_id": incident.incident_id,
            **event,
            "occurred_at": clock.isoformat(),
        }
        self.outbox.append((incident.department, "incident", data))

    def _open_incident(self, clock: datetime) -> None:
        # Several units go to one incident: their dispatches are queued to be sent in a row.
        rng = self.rng
        department = rng.choice(self.departments)
        free = [u for u in department.units if u.status in ("available_at_station", "available")]
        if not free:
            return
        incident = open_incident(department, rng, clock, near(rng, department.centre, 0.5))
        self._tell(incident, {"event": "opened", **incident.attributes}, clock)
        for unit in rng.sample(free, min(len(free), rng.randint(1, 3))):
            self.pending.append((unit, "dispatched", incident))

    def _data(self, unit: Unit, observed_at: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "department": unit.department.code,
            "unit_id": unit.unit_id,
            "unit_type": unit.unit_type,
            "status": unit.status,
            "station_id": unit.station_id,
            "crew": 0 if unit.status == "out_of_service" else unit.crew,
            "capabilities": unit.capabilities,
            "position": {"lat": unit.position[0], "lon": unit.position[1]},
            "observed_at": observed_at,
        }
        if unit.incident is not None:
            data["incident_id"] = unit.incident.incident_id
        return data

    def _event_id(self) -> str:
        bits = f"{self.rng.getrandbits(128):032x}"
        return f"{bits[:8]}-{bits[8:12]}-{bits[12:16]}-{bits[16:20]}-{bits[20:]}"

    def _valid(
        self, department: Department, family: str, data: dict[str, Any], clock: datetime, kind: str
    ) -> Message:
        """A valid event sent at clock, built and checked by the department's Publisher."""
        content_mode = "binary" if self.rng.random() < self.binary else "structured"
        topic, key, value, headers = self.publishers[department.code].build(
            family, data, event_id=self._event_id(), time=clock, content_mode=content_mode
        )
        entity = entity_key(department.code, key.decode())  # type: ignore[union-attr]
        return Message(topic, key, value, tuple(headers), kind, family, entity)

    def _out_of_order(self, unit: Unit, clock: datetime) -> Message:
        # Delivered late, as from a terminal that was offline: observed before the unit's latest.
        (earlier, data), (latest, _) = unit.sent[0], unit.sent[-1]
        observed = latest - ((latest - earlier) / 2 or timedelta(seconds=1))
        stale = {**data, "observed_at": observed.isoformat()}
        return self._valid(unit.department, "unit-status", stale, clock, "out_of_order")

    def _bad(self, reason: Reason, clock: datetime) -> Message:
        unit = self.rng.choice(self.units)
        code = unit.department.code
        data = self._data(unit, clock.isoformat())
        event = {
            "specversion": "1.0",
            "id": self._event_id(),
            "source": f"/pelastuslaitos/{code}/simulator",
            "type": "fi.pelastus.unit-status.v1",
            "time": data["observed_at"],
            "datacontenttype": "application/json",
            "data": data,
        }
        topic, key = input_topic(code, "unit-status"), unit.unit_id.encode()
        match reason:
            case Reason.ENVELOPE_FIELD_MISSING:
                del event["id"]
            case Reason.ENVELOPE_FIELD_INVALID:
                event["specversion"] = "0.3"
            case Reason.TYPE_UNKNOWN_FAMILY:
                event["type"] = "fi.pelastus.weather.v1"
            case Reason.TYPE_FAMILY_MISMATCH:  # a unit status sent to the incident topic
                topic = input_topic(code, "incident")
            case Reason.TYPE_UNKNOWN_VERSION:
                event["type"] = "fi.pelastus.unit-status.v9"
            case Reason.SCHEMA_INVALID:
                data["crew"] = -1
            case Reason.DEPARTMENT_MISMATCH:
                others = [d for d in self.departments if d is not unit.department]
                data["department"] = self.rng.choice(others).code
            case Reason.DEPARTMENT_UNKNOWN:
                data["department"] = "tuntematon"
            case Reason.KEY_MISMATCH:
                key = unit.station_id.encode()
            case Reason.MUNICIPALITY_UNKNOWN:  # an alarm in a municipality no list has
                incident = open_incident(unit.department, self.rng, clock, unit.position)
                event["type"] = "fi.pelastus.incident.v1"
                event["data"] = {
                    "department": code,
                    "incident_id": incident.incident_id,
                    "event": "opened",
                    **incident.attributes,
                    "municipality_code": "999",
                    "occurred_at": clock.isoformat(),
                }
                topic, key = input_topic(code, "incident"), incident.incident_id.encode()
            case Reason.EVENT_TIME_IN_FUTURE:
                data["observed_at"] = (clock + timedelta(days=1)).isoformat()
        value: bytes | None = orjson.dumps(event)
        headers = STRUCTURED_HEADERS
        match reason:
            case Reason.VALUE_NOT_UTF8:
                value = value.decode().encode("utf-16")
            case Reason.VALUE_NOT_JSON:
                value = value[: len(value) // 2]
            case Reason.VALUE_NOT_OBJECT:
                value = b"[" + value + b"]"
            case Reason.VALUE_TOO_DEEP:
                value = value[:-1] + b',"note":' + b"[" * TOO_DEEP + b"]" * TOO_DEEP + b"}"
            case Reason.VALUE_NULL:
                value, headers = None, ()
        family = topic.rsplit(".", 1)[1]
        return Message(topic, key, value, headers, f"invalid:{reason}", family)


def generate(
    registry: Registry,
    seed: int,
    start: datetime,
    rate: float,
    invalid_share: float = 0.0,
    duplicate_share: float = 0.0,
    out_of_order_share: float = 0.0,
    binary_share: float = 0.0,
) -> Iterator[Message]:
    """Endless simulated traffic; message i happens at start + i / rate seconds."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    # Faster, two messages could share a microsecond and a unit's next status not be newer.
    if not 0 < rate <= 1_000_000:
        raise ValueError("rate must be above 0 and at most 1,000,000 messages a second")
    shares = (invalid_share, duplicate_share, out_of_order_share, binary_share)
    if not all(0 <= share <= 1 for share in shares) or sum(shares[:3]) > 1:
        raise ValueError("shares must be in [0, 1]; invalid + duplicate + out-of-order at most 1")
    return _Simulation(registry, seed, rate, shares).messages(start)


def message_data(message: Message) -> dict[str, Any]:
    """The data of a valid, duplicate or out-of-order message, in either content mode."""
    event = orjson.loads(message.value)  # type: ignore[arg-type]
    return event if any(name == "ce_specversion" for name, _ in message.headers) else event["data"]


def final_states(messages: Iterable[Message]) -> dict[str, dict[str, Any]]:
    """Expected latest data per unit key: that of its valid message with the latest observed_at."""
    valid = [
        (m.entity_key, message_data(m))
        for m in messages
        if m.kind == "valid" and m.family == "unit-status"
    ]
    valid.sort(key=lambda item: datetime.fromisoformat(item[1]["observed_at"]))
    return {key: data for key, data in valid}


def ground_truth(messages: Iterable[Message]) -> dict[str, Any]:
    """What the hub must know after these messages, worked out from the simulation's own
    valid messages, not by the hub's code: the oracle tests compare the hub with.

    units: the latest data per unit (final_states). stations: the latest readiness per
    station. incidents: per incident its alarm time, attributes, per unit the dispatch
    and arrival times, its end, and the first unit's response time in seconds.
    """
    messages = list(messages)
    stations: dict[str, dict[str, Any]] = {}
    incidents: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message.kind != "valid" or message.family == "unit-status":
            continue
        data = message_data(message)
        key = message.entity_key
        if message.family == "readiness":
            seen = stations.get(key)  # type: ignore[arg-type]
            if seen is None or _time(data["observed_at"]) > _time(seen["observed_at"]):
                stations[key] = data  # type: ignore[index]
            continue
        incident = incidents.setdefault(  # type: ignore[arg-type]
            key,
            {
                "department": data["department"],
                "incident_id": data["incident_id"],
                "opened_at": None,  # until its opened event is sent (it may be held back)
                "units": {},
                "ended": None,
            },
        )
        if data["event"] == "opened":
            incident["opened_at"] = data["occurred_at"]
            incident.update({k: v for k, v in data.items() if k in OPENING_ATTRIBUTES})
        elif data["event"] in ("unit_dispatched", "unit_on_scene"):
            times = incident["units"].setdefault(data["unit_id"], [None, None])
            times[1 if data["event"] == "unit_on_scene" else 0] = data["occurred_at"]
        else:
            incident["ended"] = data["event"]
    for incident in incidents.values():
        arrivals = [_time(t) for _, t in incident["units"].values() if t]
        first = min(arrivals, default=None)
        opened = incident["opened_at"]
        incident["response_seconds"] = (
            (first - _time(opened)).total_seconds() if first and opened else None
        )
    return {"units": final_states(messages), "stations": stations, "incidents": incidents}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


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


class _Sender:
    """Hands messages to the producer in order, and resends those the brokers did not take.

    recover() resends only once everything sent before has settled, and nothing new is
    sent meanwhile: resends go out in the original order and after all older messages,
    so each key's messages stay in order as far as aiokafka keeps them (its idempotent
    producer resends a batch it has taken by itself, in order, until the brokers take it).
    """

    def __init__(
        self,
        producer: AIOKafkaProducer,
        retries: int,
        backoff: float,
        max_backoff: float,
        progress: Callable[[str], None],
        keep: bool,
    ) -> None:
        self.producer, self.progress = producer, progress
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
        try:
            # aiokafka's compiled record builder takes headers as a list only.
            future = await self.producer.send(
                msg.topic, msg.value, msg.key, headers=list(msg.headers)
            )
        # The producer could not take it: for request_timeout_ms it had no partitions for
        # the topic, or the partition's batch stayed full.
        except KafkaError as error:
            delivery.error = error
            self.failed.append(delivery)
            return
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
                if delivery.attempts <= self.retries and is_retriable(delivery.error):
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
) -> Counter[str]:
    """Produce simulated traffic at `rate` messages a second until `duration` seconds or
    `count` messages, whichever comes first (neither: until cancelled); counts by kind.
    With `truth`, also write the ground truth of the messages delivered there (JSON), at
    the end, also when cancelled.

    A message the brokers did not take for a retriable reason (hub.publisher.is_retriable)
    is sent again up to `send_retries` times, after `retry_backoff` seconds doubled for
    every further retry up to `max_retry_backoff`; no newer message is sent meanwhile.
    One that still fails is counted and reported, not fatal. `producer_options` are
    further AIOKafkaProducer arguments (e.g. request_timeout_ms); `clients` makes the
    producer (by default of the settings' connection).
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
    clients = clients or KafkaClients.from_settings(settings)
    producer = clients.producer(**options, enable_idempotence=True)
    sender = _Sender(
        producer, send_retries, retry_backoff, max_retry_backoff, progress, truth is not None
    )
    loop = asyncio.get_running_loop()
    began = loop.time()  # with the simulated clock: time spent connecting is caught up
    next_report, sent, finished = began + 1, 0, False
    try:
        await producer.start()  # in the try, so that a failed start is closed too
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
                await producer.stop()  # flushes whatever is still pending
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
