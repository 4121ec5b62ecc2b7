"""The simulated fleet moving on: incidents open, units go out to them and come back,
units go out of service and back, and stations' readiness changes."""

import random
from collections import deque
from datetime import datetime
from typing import Any

from pelastus_hub.tools.simulator.world import (
    AT_STATION,
    Department,
    Incident,
    Unit,
    near,
    open_incident,
)

# A unit tied up by an incident (or driving back from one) moves along this flow.
COMMITTED = ("dispatched", "en_route", "on_scene", "available")
NEXT_STATUS = dict(zip(COMMITTED, (*COMMITTED[1:], "available_at_station"), strict=True))
# Chances of a fleet step; else a committed unit advances.
OPEN_INCIDENT, TOGGLE_SERVICE, READINESS_CHANGE = 0.1, 0.03, 0.05


class Fleet:
    def __init__(self, departments: list[Department], rng: random.Random) -> None:
        self.departments, self.rng = departments, rng
        self.units = [u for d in departments for u in d.units]
        # Insertion-ordered, so random choices from it stay deterministic.
        self.committed: dict[Unit, None] = {}
        self.pending: deque[tuple[Unit, str, Incident | None]] = deque()
        # Incident and readiness events due, sent before the fleet moves on:
        # (department, family, data), the time in the data being when it happened.
        self.outbox: deque[tuple[Department, str, dict[str, Any]]] = deque()

    def step(self, clock: datetime) -> Unit:
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
