"""Simulated traffic from every registry department: unit statuses, incidents, readiness.

The fleet (fleet.py) decides what happens. Valid messages are built by the departments' own
Publisher, which checks each with the hub's rules; some are sent again or late, and bad ones
are spoiled by hand (invalid.py).
"""

import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pelastus_hub.client.publisher import Publisher
from pelastus_hub.contract.reasons import Reason
from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings
from pelastus_hub.state.store import DEDUP_WINDOW, entity_key
from pelastus_hub.tools.simulator.fleet import Fleet
from pelastus_hub.tools.simulator.invalid import BAD_KINDS, invalid_message
from pelastus_hub.tools.simulator.message import Message
from pelastus_hub.tools.simulator.world import Department, Unit, build_departments


class _Simulation:
    def __init__(self, registry: Registry, seed: int, rate: float, shares: tuple[float, ...]):
        self.rng, self.rate, self.shares, self.binary = random.Random(seed), rate, shares, shares[3]
        self.departments = build_departments(registry, self.rng)
        self.fleet = Fleet(self.departments, self.rng)
        self.units = self.fleet.units
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
            elif self.fleet.outbox:
                department, family, data = self.fleet.outbox.popleft()
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
                message = self._unit_status(self.fleet.step(clock), clock)
            if message.kind == "valid":  # duplicates copy what was sent, once it was
                self.sent.append(message)
            yield message
            i += 1

    def _unit_status(self, unit: Unit, clock: datetime) -> Message:
        data = unit.unit_status(clock.isoformat())
        unit.sent.append((clock, data))
        message = self._valid(unit.department, "unit-status", data, clock, "valid")
        self.recent.append((unit, message))
        return message

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
        return invalid_message(reason, unit, self._event_id(), clock, self.rng, self.departments)


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
