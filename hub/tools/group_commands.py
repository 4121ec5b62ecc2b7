"""`pelastus-hub group show|reset`: the hub's consumer group, its members' partitions and lag,
and moving its offsets to a time, the earliest or the latest while no worker runs.

Tables go to standard output; progress and errors to standard error, an error in one line.
"""

import sys
from collections.abc import Callable
from datetime import datetime

import orjson

from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.dead_letters import moment
from pelastus_hub.tools.group_admin import BrokerAdminError, GroupAdmin
from pelastus_hub.tools.group_plan import (
    REREAD_MEANING,
    Group,
    busy,
    plan_text,
    reset_plan,
    show_text,
)

SKIP_MEANING = "Records skipped are never processed: the state and the picture miss them."


class WorkersRunning(RuntimeError):
    """A change to the group refused while workers of it run."""


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def guarded(command: Callable[[], int]) -> int:
    """Run a command; what stops it (no broker, no such group, a refusal by the broker,
    settings that cannot connect) ends it with one line and exit code 1."""
    try:
        return command()
    except (BrokerAdminError, LookupError, ValueError, WorkersRunning) as error:
        say(f"error: {error}")
        return 1


def read_group(settings: HubSettings, admin: GroupAdmin) -> Group:
    say(f"reading group {settings.group_id} at {admin.where}")
    codes = Registry.load(settings.schemas_dir).codes
    return admin.group(settings.group_id, codes, sorted(FAMILIES))


def idle_group(settings: HubSettings, doing: str) -> tuple[GroupAdmin, Group]:
    """The group, read for a change that only a group without workers may take; raises
    WorkersRunning while any worker is a member. `doing` names the change."""
    admin = GroupAdmin(settings)
    group = read_group(settings, admin)
    if refusal := busy(admin.workers(settings.group_id), doing):
        raise WorkersRunning(refusal)
    return admin, group


def run_show(output_format: str) -> int:
    settings = HubSettings()

    def show() -> int:
        group = read_group(settings, GroupAdmin(settings))
        if output_format == "json":
            print(orjson.dumps(group.as_json()).decode())
        else:
            print(show_text(group))
        return 0

    return guarded(show)


def run_reset(to_time: str | None, to_earliest: bool, dry_run: bool) -> int:
    """Without to_time or to_earliest: to the latest offsets."""
    try:
        when: datetime | None = moment(to_time) if to_time is not None else None
    except ValueError as error:
        say(f"error: --to-time {error}")
        return 2
    settings = HubSettings()

    def reset() -> int:
        admin, group = idle_group(settings, "reset the offsets")
        if when is not None:
            say(f"finding each input partition's first offset at or after {when.isoformat()}")
            targets = admin.at_time([o.key for o in group.partitions], when)
        else:
            targets = {o.key: o.earliest if to_earliest else o.end for o in group.partitions}
        moves = reset_plan(group.partitions, targets)
        print(plan_text(moves))
        if any(move.again for move in moves):
            print(REREAD_MEANING)
        if any(move.skipped for move in moves):
            print(SKIP_MEANING)
        if dry_run:
            print("dry run: no offset moved")
            return 0
        changed = {move.offsets.key: move.new for move in moves if move.changes}
        admin.move(settings.group_id, changed)
        print(
            f"moved the offsets of {len(changed)} partitions of group {settings.group_id}: "
            "the workers read on from there when they start"
        )
        return 0

    return guarded(reset)
