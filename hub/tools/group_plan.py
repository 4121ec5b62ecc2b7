"""The hub's consumer group as an operator reads it, and where a reset moves its offsets:
pure, from what the broker told (pelastus_hub.tools.group_admin asks it).

A partition never committed is read from its earliest offset when a worker gets it
(pelastus_hub.runtime.resume), so that is where it stands: its lag is every record it
holds, and a reset to the earliest offset changes nothing for it.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Key = tuple[str, int]  # (topic, partition)

# What reading records again does to the hub, said wherever offsets go back.
REREAD_MEANING = (
    "Records read again whose unit, incident or station the state still holds end as "
    "`duplicate` or `stale` and change nothing; bad ones are dead-lettered again and "
    "their departments get the feedback again."
)


@dataclass(frozen=True)
class Member:
    member_id: str
    client_id: str
    host: str
    group: str
    partitions: tuple[Key, ...] = ()

    def named(self) -> str:
        return f"{self.client_id} on {self.host} (member {self.member_id} of {self.group})"


@dataclass(frozen=True)
class Offsets:
    """One input partition, dept.<department>.<family>/<partition>."""

    topic: str
    partition: int
    earliest: int
    end: int
    committed: int | None  # None: never committed

    @property
    def key(self) -> Key:
        return self.topic, self.partition

    @property
    def name(self) -> str:
        return f"{self.topic}/{self.partition}"

    @property
    def department(self) -> str:
        return self.topic.split(".")[1]

    @property
    def position(self) -> int:
        """Where a worker reads on from: records before the earliest are gone (retention)."""
        return self.earliest if self.committed is None else max(self.committed, self.earliest)

    @property
    def lag(self) -> int:
        """Records not yet processed: from where a worker reads on to the end."""
        return max(self.end - self.position, 0)

    @property
    def used(self) -> bool:
        """Whether it ever held a record or had an offset committed."""
        return self.end > 0 or self.committed is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "department": self.department,
            "committed": self.committed,
            "never_committed": self.committed is None,
            "earliest": self.earliest,
            "end": self.end,
            "lag": self.lag,
        }


@dataclass(frozen=True)
class Group:
    group_id: str
    state: str
    members: tuple[Member, ...]
    partitions: tuple[Offsets, ...]
    missing_topics: tuple[str, ...] = ()  # input topics the broker does not have

    def owner(self, key: Key) -> Member | None:
        return next((m for m in self.members if key in m.partitions), None)

    def lag_by_member(self) -> dict[str, int]:
        lags = {member.member_id: 0 for member in self.members}
        for offsets in self.partitions:
            if (member := self.owner(offsets.key)) is not None:
                lags[member.member_id] += offsets.lag
        return lags

    def lag_by_department(self) -> dict[str, int]:
        lags: Counter[str] = Counter()
        for offsets in self.partitions:
            lags[offsets.department] += offsets.lag
        return dict(sorted(lags.items()))

    @property
    def lag(self) -> int:
        return sum(offsets.lag for offsets in self.partitions)

    def as_json(self) -> dict[str, Any]:
        lags = self.lag_by_member()
        members = [
            {
                "member_id": member.member_id,
                "client_id": member.client_id,
                "host": member.host,
                "partitions": [f"{topic}/{partition}" for topic, partition in member.partitions],
                "lag": lags[member.member_id],
            }
            for member in self.members
        ]
        partitions = []
        for offsets in self.partitions:
            owner = self.owner(offsets.key)
            partitions.append(offsets.as_json() | {"member_id": owner and owner.member_id})
        return {
            "group": self.group_id,
            "state": self.state,
            "members": members,
            "partitions": partitions,
            "departments": self.lag_by_department(),
            "lag": self.lag,
            "missing_topics": list(self.missing_topics),
        }


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _partition_lines(partitions: Iterable[Offsets]) -> list[str]:
    """The partitions that ever held a record, one a line; the others only counted."""
    partitions = list(partitions)
    used = [offsets for offsets in partitions if offsets.used]
    lines = [f"    {'partition':<36} {'committed':>10} {'end':>10} {'lag':>8}"] if used else []
    for offsets in used:
        committed = "-" if offsets.committed is None else str(offsets.committed)
        never = "  never committed: read from the earliest" if offsets.committed is None else ""
        lines.append(
            f"    {offsets.name:<36} {committed:>10} {offsets.end:>10} {offsets.lag:>8}{never}"
        )
    if len(used) < len(partitions):
        lines.append(
            f"    ({counted(len(partitions) - len(used), 'partition')} without any record)"
        )
    return lines


def show_text(group: Group) -> str:
    """Members with their partitions and lag, then the lag per department."""
    lines = [
        f"group {group.group_id}: {group.state}, {counted(len(group.members), 'member')}, "
        f"lag {counted(group.lag, 'record')}"
    ]
    lags = group.lag_by_member()
    by_key = {offsets.key: offsets for offsets in group.partitions}
    for member in group.members:
        owned = [by_key[key] for key in sorted(member.partitions) if key in by_key]
        lines.append(
            f"member {member.client_id} on {member.host} ({member.member_id}): "
            f"{counted(len(owned), 'input partition')}, lag {lags[member.member_id]}"
        )
        lines += _partition_lines(owned)
    unassigned = [offsets for offsets in group.partitions if group.owner(offsets.key) is None]
    if unassigned:
        lines.append(f"not assigned to any member: {counted(len(unassigned), 'input partition')}")
        lines += _partition_lines(unassigned)
    lines.append("lag by department:")
    lines += [f"    {code:<18} {lag:>8}" for code, lag in group.lag_by_department().items()]
    if group.missing_topics:
        lines.append(f"input topics not on the broker: {', '.join(group.missing_topics)}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Move:
    """A partition's offset before and after a reset."""

    offsets: Offsets
    new: int

    @property
    def again(self) -> int:
        """Records read again."""
        return max(self.offsets.position - self.new, 0)

    @property
    def skipped(self) -> int:
        """Records never read."""
        return max(self.new - self.offsets.position, 0)

    @property
    def changes(self) -> bool:
        return self.new != self.offsets.position


def reset_plan(partitions: Iterable[Offsets], targets: Mapping[Key, int | None]) -> list[Move]:
    """Each partition's move to its target offset; a target of None (no record at or after
    the time asked) is the partition's end, and a partition without a target stays."""
    moves = []
    for offsets in partitions:
        if offsets.key not in targets:
            continue
        target = targets[offsets.key]
        new = offsets.end if target is None else min(max(target, offsets.earliest), offsets.end)
        moves.append(Move(offsets, new))
    return moves


def plan_text(moves: list[Move]) -> str:
    """The partitions that move, old -> new, with the records read again or skipped."""
    changed = [move for move in moves if move.changes]
    lines = []
    if changed:
        lines.append(f"{'partition':<36} {'committed':>10}    {'new':>10}  records")
    for move in changed:
        old = "-" if move.offsets.committed is None else str(move.offsets.committed)
        what = f"{move.again} read again" if move.again else f"{move.skipped} skipped"
        lines.append(f"{move.offsets.name:<36} {old:>10} -> {move.new:>10}  {what}")
    again = sum(move.again for move in changed)
    skipped = sum(move.skipped for move in changed)
    lines.append(
        f"{counted(len(changed), 'partition')} to move ({len(moves) - len(changed)} stay): "
        f"{counted(again, 'record')} read again, {skipped} skipped"
    )
    return "\n".join(lines)


def busy(members: Iterable[Member], what: str) -> str | None:
    """Why `what` cannot be done while workers run; None if no worker is a member."""
    named = [member.named() for member in members]
    if not named:
        return None
    return (
        f"cannot {what} while workers are in the group (Kafka moves no offsets of an active "
        f"group): stop the workers first; members: {'; '.join(named)}"
    )
