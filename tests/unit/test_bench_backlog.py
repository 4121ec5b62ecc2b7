"""The bench's backlogs: each its own, later in event time than the one before, and the
warm-up's a prefix of its own backlog."""

import json

from pelastus_hub.contract.registry import Registry
from pelastus_hub.tools.bench.backlog import Backlogs
from tests.unit.helpers import SCHEMAS


def event_times(messages: list) -> list[str]:
    # Binary-mode messages carry the data alone; both kinds have observed_at in it.
    times = []
    for message in messages:
        body = json.loads(message.value) if message.value else None
        if isinstance(body, dict):
            data = body.get("data", body)
            if isinstance(data, dict) and isinstance(data.get("observed_at"), str):
                times.append(data["observed_at"])
    return times


def test_a_shorter_backlog_is_the_first_messages_of_the_full_one() -> None:
    backlogs = Backlogs(Registry.load(SCHEMAS), 300, 3)
    full, first = backlogs.messages(1), backlogs.messages(1, 120)
    assert len(full) == 300 and first == full[:120]


def test_each_backlog_is_its_own_and_later_than_the_one_before() -> None:
    backlogs = Backlogs(Registry.load(SCHEMAS), 200, 3)
    earlier, later = backlogs.messages(0), backlogs.messages(1)
    valid = [{m.value for m in b if m.kind == "valid"} for b in (earlier, later)]
    assert valid[0] and valid[1] and valid[0].isdisjoint(valid[1])
    assert max(event_times(earlier)) < min(event_times(later))
