"""Simulated unit statuses from every registry department, some of them bad.

generate() is pure, so a (registry, seed, start, rate, shares) always yields the same bytes
and tests can predict the hub's state with final_states(). run() produces it to Kafka.
"""

import asyncio
import itertools
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from hub.contracts.envelope import REQUIRED_ATTRIBUTES, STRUCTURED_CONTENT_TYPE
from hub.reasons import Reason
from hub.registry import Registry
from hub.settings import HubSettings
from hub.state import DEDUP_WINDOW, entity_key
from hub.topics import input_topic

EVENT_TYPE = "fi.pelastus.unit-status.v1"
STRUCTURED_HEADERS = (("content-type", STRUCTURED_CONTENT_TYPE.encode()),)
# _bad() spoils a message so that the hub rejects it for exactly its reason, for every
# reason but these: too large depends on settings, and there is no other family to mix up.
UNSIMULATED = (
    Reason.VALUE_TOO_LARGE,
    Reason.TYPE_UNKNOWN_FAMILY,
    Reason.TYPE_FAMILY_MISMATCH,
    Reason.MUNICIPALITY_UNKNOWN,
)
BAD_KINDS = tuple(reason for reason in Reason if reason not in UNSIMULATED)
# unit type: (weight, last call-sign digit, crew range, capabilities it may carry). The
# digits are illustrative, not any department's real numbering.
UNIT_KINDS: dict[str, tuple[float, int, tuple[int, int], tuple[str, ...]]] = {
    "rescue_unit": (30, 1, (4, 6), ("smoke_diving", "hydraulic_tools", "first_response")),
    "spearhead_unit": (14, 2, (2, 3), ("smoke_diving", "first_response")),
    "tank_unit": (12, 3, (1, 2), ("water_supply",)),
    "ems_unit": (26, 6, (2, 3), ("advanced_life_support", "basic_life_support")),
    "aerial_unit": (5, 4, (1, 2), ("aerial_ladder",)),
    "command_unit": (5, 0, (1, 2), ()),
    "water_rescue_unit": (4, 7, (2, 4), ("water_rescue", "ice_rescue", "boat")),
    "first_response_unit": (2, 8, (2, 4), ("first_response",)),
    "hazmat_unit": (1, 5, (3, 6), ("chemical_protection", "decontamination")),
    "support_unit": (1, 9, (1, 2), ()),
    "other": (0.5, 9, (1, 6), ()),
}
UNIT_WEIGHTS = [weight for weight, *_ in UNIT_KINDS.values()]
# A unit tied up by an incident (or driving back from one) moves along this flow.
COMMITTED = ("dispatched", "en_route", "on_scene", "available")
NEXT_STATUS = dict(zip(COMMITTED, (*COMMITTED[1:], "available_at_station"), strict=True))
AT_STATION = ("available_at_station", "out_of_service", "reserved")
OPEN_INCIDENT, TOGGLE_SERVICE = 0.1, 0.03  # chances of a fleet step; else a unit advances
BURST_INTERVAL = 0.01  # seconds between sending bursts when keeping up
MAX_BURST = 2000  # keeps progress lines and the duration check timely when behind
_Incident = tuple[str, tuple[float, float]]  # id and position


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    kind: str  # "valid", "duplicate", "out_of_order" or "invalid:<reason code>"
    unit_key: str | None = None  # "<department>/<unit_id>", except for invalid messages


@dataclass(slots=True, eq=False)
class _Department:
    code: str
    area: str
    centre: tuple[float, float]
    incident_seq: int
    topic: str
    units: list["_Unit"] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Unit:
    department: _Department
    unit_id: str
    unit_type: str
    station_id: str
    home: tuple[float, float]
    crew: int
    capabilities: list[str]
    status: str
    position: tuple[float, float]
    incident: _Incident | None = None
    # (observed_at, data) of the last two valid statuses: out-of-order messages replay the older.
    sent: deque[tuple[datetime, dict[str, Any]]] = field(default_factory=lambda: deque(maxlen=2))


def area_letters(code: str) -> str:
    # pirkanmaa -> PI, etela-savo -> ES: unconfirmed as the departments' real prefixes.
    parts = code.split("-")
    return (parts[0][0] + parts[1][0] if len(parts) > 1 else code[:2]).upper()


def _near(rng: random.Random, centre: tuple[float, float], spread: float) -> tuple[float, float]:
    # A degree of longitude is about half a degree of latitude this far north.
    lat = centre[0] + rng.uniform(-spread, spread)
    return round(lat, 5), round(centre[1] + rng.uniform(-2 * spread, 2 * spread), 5)


class _Simulation:
    def __init__(self, registry: Registry, seed: int, rate: float, shares: tuple[float, ...]):
        self.rng, self.rate, self.shares, self.binary = random.Random(seed), rate, shares, shares[3]
        self.departments = [self._department(d.code) for d in registry.departments]
        self.units = [u for d in self.departments for u in d.units]
        # Insertion-ordered, so random choices from it stay deterministic.
        self.committed: dict[_Unit, None] = {}
        self.pending: deque[tuple[_Unit, str, _Incident | None]] = deque()
        # Resent from here only: an older message may have left the hub's duplicate window.
        self.recent: deque[tuple[_Unit, Message]] = deque(maxlen=DEDUP_WINDOW)

    def _department(self, code: str) -> _Department:
        rng = self.rng
        # A random centre in Finland's rough bounding box, not the department's real area.
        centre = (rng.uniform(60.0, 68.5), rng.uniform(21.5, 30.0))
        area = area_letters(code)
        topic = input_topic(code, "unit-status")
        department = _Department(code, area, centre, rng.randint(1, 90_000), topic)
        for number in range(1, rng.randint(3, 12) + 1):
            home = _near(rng, centre, 0.4)
            for index in range(1, rng.randint(2, 5) + 1):
                kind = rng.choices(list(UNIT_KINDS), UNIT_WEIGHTS)[0]
                _, digit, crew, capabilities = UNIT_KINDS[kind]
                agency = "E" if kind == "ems_unit" else "R"  # ensihoito, else pelastus
                unit_id = f"{agency}{area}{number}{index}{digit}"
                kit = rng.sample(capabilities, rng.randint(0, len(capabilities)))
                status = rng.choices(AT_STATION, (85, 10, 5))[0]
                station, members = f"{area}-{number}", rng.randint(*crew)
                unit = _Unit(department, unit_id, kind, station, home, members, kit, status, home)
                department.units.append(unit)
        return department

    def messages(self, start: datetime) -> Iterator[Message]:
        rng = self.rng
        # Round-robin over the departments, so that every one of them has units early on.
        rows = itertools.zip_longest(*(d.units for d in self.departments))
        initial = deque(unit for row in rows for unit in row if unit is not None)
        bad_kinds = itertools.cycle(BAD_KINDS)
        # One roll decides each message's kind, against these cumulative shares.
        invalid, duplicate, out_of_order = itertools.accumulate(self.shares[:3])
        for i in itertools.count():
            clock = start + timedelta(microseconds=round(i * 1_000_000 / self.rate))
            roll = rng.random()
            if roll < invalid:
                yield self._bad(next(bad_kinds), clock)
            elif roll < duplicate and self.recent:
                yield replace(rng.choice(self.recent)[1], kind="duplicate")
            elif roll < out_of_order and self.recent:
                yield self._out_of_order(rng.choice(self.recent)[0], clock)
            else:
                unit = initial.popleft() if initial else self._step(clock)
                data = self._data(unit, clock.isoformat())
                unit.sent.append((clock, data))
                self.recent.append((unit, self._event(unit, data, data["observed_at"], "valid")))
                yield self.recent[-1][1]

    def _step(self, clock: datetime) -> _Unit:
        """Move the fleet on by one status change; return the unit that changed."""
        rng = self.rng
        while not self.pending:
            roll = rng.random()
            if roll < OPEN_INCIDENT:
                self._open_incident(clock)
            elif roll < OPEN_INCIDENT + TOGGLE_SERVICE or not self.committed:
                unit = rng.choice(self.units)
                if unit.status in ("out_of_service", "reserved"):
                    self.pending.append((unit, "available_at_station", None))
                elif unit.status == "available_at_station" and rng.random() < 0.2:
                    status = "out_of_service" if rng.random() < 0.75 else "reserved"
                    self.pending.append((unit, status, None))
            else:
                unit = rng.choice(list(self.committed))
                status = NEXT_STATUS[unit.status]  # clearing the scene ends the incident
                incident = None if status == "available" else unit.incident
                self.pending.append((unit, status, incident))
        unit, status, incident = self.pending.popleft()
        unit.status, unit.incident = status, incident
        if status == "en_route" and incident is not None:
            (lat, lon), (to_lat, to_lon) = unit.position, incident[1]
            unit.position = (round((lat + to_lat) / 2, 5), round((lon + to_lon) / 2, 5))
        elif status == "on_scene" and incident is not None:
            unit.position = incident[1]
        elif status in AT_STATION:
            unit.position = unit.home
        self.committed.pop(unit, None)
        if status in COMMITTED:
            self.committed[unit] = None
        return unit

    def _open_incident(self, clock: datetime) -> None:
        # Several units go to one incident: their dispatches are queued to be sent in a row.
        rng = self.rng
        department = rng.choice(self.departments)
        free = [u for u in department.units if u.status in ("available_at_station", "available")]
        if not free:
            return
        seq = department.incident_seq = department.incident_seq % 999_999 + 1
        incident = (f"{department.area}-{clock.year}-{seq:06d}", _near(rng, department.centre, 0.5))
        for unit in rng.sample(free, min(len(free), rng.randint(1, 3))):
            self.pending.append((unit, "dispatched", incident))

    def _data(self, unit: _Unit, observed_at: str) -> dict[str, Any]:
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
            data["incident_id"] = unit.incident[0]
        return data

    def _structured(self, unit: _Unit, data: dict[str, Any], time: str) -> dict[str, Any]:
        bits = f"{self.rng.getrandbits(128):032x}"
        return {
            "specversion": "1.0",
            "id": f"{bits[:8]}-{bits[8:12]}-{bits[12:16]}-{bits[16:20]}-{bits[20:]}",
            "source": f"/pelastuslaitos/{unit.department.code}/simulator",
            "type": EVENT_TYPE,
            "time": time,
            "datacontenttype": "application/json",
            "data": data,
        }

    def _event(self, unit: _Unit, data: dict[str, Any], time: str, kind: str) -> Message:
        event = self._structured(unit, data, time)
        if self.rng.random() < self.binary:
            value = orjson.dumps(data)
            attributes = ((f"ce_{name}", event[name].encode()) for name in REQUIRED_ATTRIBUTES)
            headers = (*attributes, ("content-type", b"application/json"))
        else:
            value, headers = orjson.dumps(event), STRUCTURED_HEADERS
        key = entity_key(unit.department.code, unit.unit_id)
        return Message(unit.department.topic, unit.unit_id.encode(), value, headers, kind, key)

    def _out_of_order(self, unit: _Unit, clock: datetime) -> Message:
        # Delivered late, as from a terminal that was offline: observed before the unit's latest.
        (earlier, data), (latest, _) = unit.sent[0], unit.sent[-1]
        observed = latest - ((latest - earlier) / 2 or timedelta(seconds=1))
        stale = {**data, "observed_at": observed.isoformat()}
        return self._event(unit, stale, clock.isoformat(), "out_of_order")

    def _bad(self, reason: Reason, clock: datetime) -> Message:
        unit = self.rng.choice(self.units)
        data = self._data(unit, clock.isoformat())
        event = self._structured(unit, data, data["observed_at"])
        key: bytes | None = unit.unit_id.encode()
        match reason:
            case Reason.ENVELOPE_FIELD_MISSING:
                del event["id"]
            case Reason.ENVELOPE_FIELD_INVALID:
                event["specversion"] = "0.3"
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
            case Reason.VALUE_NULL:
                value, headers = None, ()
        return Message(unit.department.topic, key, value, headers, f"invalid:{reason}")


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
    """The unit-status data of a valid, duplicate or out-of-order message, in either mode."""
    event = orjson.loads(message.value)  # type: ignore[arg-type]
    return event if any(name == "ce_specversion" for name, _ in message.headers) else event["data"]


def final_states(messages: Iterable[Message]) -> dict[str, dict[str, Any]]:
    """Expected latest data per unit key: that of its valid message with the latest observed_at."""
    valid = [(m.unit_key, message_data(m)) for m in messages if m.kind == "valid"]
    valid.sort(key=lambda item: datetime.fromisoformat(item[1]["observed_at"]))
    return {key: data for key, data in valid}


def _by_kind(counts: Counter[str], group: bool = False) -> str:
    # Progress lines lump the invalid reasons together, to stay short enough to read.
    shown: Counter[str] = Counter()
    for kind, n in counts.items():
        shown[kind.partition(":")[0] if group else kind] += n
    return ", ".join(f"{kind} {n}" for kind, n in sorted(shown.items())) or "nothing"


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
) -> Counter[str]:
    """Produce simulated traffic at `rate` messages a second until `duration` seconds or
    `count` messages, whichever comes first (neither: until cancelled); counts by kind."""
    shares = (invalid_share, duplicate_share, out_of_order_share, binary_share)
    messages = generate(registry, seed, datetime.now(UTC), rate, *shares)
    total = math.inf if count is None else count
    if duration is not None:
        total = min(total, math.ceil(duration * rate))
    counts: Counter[str] = Counter()
    failures: list[BaseException] = []

    def delivered(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and (error := future.exception()) is not None:
            failures.append(error)

    producer = AIOKafkaProducer(
        **settings.kafka_options(), acks="all", enable_idempotence=True, linger_ms=5
    )
    loop = asyncio.get_running_loop()
    began = loop.time()  # with the simulated clock: time spent connecting is caught up
    next_report, sent, finished = began + 1, 0, False
    try:
        await producer.start()  # in the try, so that a failed start is closed too
        while sent < total and not failures:
            now = loop.time()
            # Message i is due at began + i / rate: send all that are due in one burst.
            due = min(int((now - began) * rate) + 1, sent + MAX_BURST, total)
            for msg in itertools.islice(messages, due - sent):
                # aiokafka's compiled record builder takes headers as a list only.
                future = await producer.send(
                    msg.topic, msg.value, msg.key, headers=list(msg.headers)
                )
                future.add_done_callback(delivered)
                counts[msg.kind] += 1
            sent = due
            if duration is not None and now - began >= duration:
                break  # behind schedule: the duration still wins
            if now >= next_report:
                pace = sent / (now - began)
                progress(f"{sent} sent, {pace:.0f}/s; {_by_kind(counts, group=True)}")
                next_report = now + 1
            delay = began + sent / rate - loop.time()
            await asyncio.sleep(min(max(delay, BURST_INTERVAL), 1.0) if delay > 0 else 0)
        await producer.flush()
        if failures:
            raise failures[0]
        finished = True
    finally:
        await producer.stop()  # flushes whatever is still pending, also when cancelled
        elapsed, total_sent = max(loop.time() - began, 1e-9), counts.total()
        summary = f"{total_sent} messages in {elapsed:.1f} s ({total_sent / elapsed:.0f}/s)"
        progress(f"{'done' if finished else 'stopped'}: {summary}; {_by_kind(counts)}")
    return counts
