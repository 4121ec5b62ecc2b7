"""What a broker should hold for the hub, from the registry: topics, principals and ACLs;
and the steps from what it holds now to that.

Each department's principal is its code. It may write only its input topics
(dept.<code>.*), read only its feedback (feedback.<code>) and the national outputs
(national.*), and use consumer groups named <code>.*. The hub's principal reads every
input, writes the national outputs, feedback, dead letters and its state (hub.*), and
uses its consumer groups and transactional ids (named after its group id). The reader
reads only the national outputs. What no ACL allows, the broker refuses.

Nothing here is removed: whatever the broker holds that the registry no longer asks for
(a department taken out of it, an ACL added by hand) is reported, for a person to decide.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pelastus_hub.contract.topics import feedback_topic
from pelastus_hub.runtime.group_offsets import OFFSETS_TOPIC, RUNTIME_GROUP_SUFFIX

HUB_USER = "pelastus-hub"
READER_USER = "national-reader"
INPUT_PREFIX = "dept."
NATIONAL_PREFIX = "national."
HUB_PREFIX = "hub."
FEEDBACK_PREFIX = "feedback."


@dataclass(frozen=True, order=True)
class Topic:
    name: str
    partitions: int
    replicas: int
    configs: tuple[tuple[str, str], ...] = ()

    def detail(self) -> str:
        configs = ", ".join(f"{k}={v}" for k, v in self.configs)
        return f"{self.partitions} partitions, {self.replicas} replicas" + (
            f", {configs}" if configs else ""
        )


@dataclass(frozen=True, order=True)
class Acl:
    """An ALLOW binding from any host: operation on a resource, a literal name or a prefix."""

    principal: str  # the user name, without "User:"
    operation: str  # READ, WRITE, ...
    resource: str  # TOPIC, GROUP, TRANSACTIONAL_ID
    name: str
    prefixed: bool

    def detail(self) -> str:
        what = f"{self.resource.lower().replace('_', ' ')} {self.name}"
        return f"{self.operation} {what}{'*' if self.prefixed else ''}"


@dataclass(frozen=True)
class Wanted:
    topics: tuple[Topic, ...]
    users: tuple[str, ...]
    acls: tuple[Acl, ...]


@dataclass(frozen=True)
class Current:
    """What the broker holds: its topics, its SCRAM users and its ACLs."""

    topics: dict[str, tuple[int, int]]  # name: (partitions, replicas)
    users: frozenset[str]
    acls: frozenset[Acl]


@dataclass(frozen=True)
class Step:
    action: str  # create, keep or report
    kind: str  # topic, user or acl
    name: str
    detail: str


@dataclass
class Plan:
    topics: list[Topic] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    acls: list[Acl] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.topics) + len(self.users) + len(self.acls)


def department_acls(code: str) -> list[Acl]:
    return [
        Acl(code, "WRITE", "TOPIC", f"{INPUT_PREFIX}{code}.", True),
        Acl(code, "READ", "TOPIC", feedback_topic(code), False),
        Acl(code, "READ", "TOPIC", NATIONAL_PREFIX, True),
        Acl(code, "READ", "GROUP", f"{code}.", True),
    ]


def hub_acls(group_id: str) -> list[Acl]:
    return [
        Acl(HUB_USER, "READ", "TOPIC", INPUT_PREFIX, True),
        Acl(HUB_USER, "WRITE", "TOPIC", FEEDBACK_PREFIX, True),
        *(
            Acl(HUB_USER, op, "TOPIC", p, True)
            for p in (NATIONAL_PREFIX, HUB_PREFIX)
            for op in ("READ", "WRITE")
        ),
        # The batch consumer's group and Faust's.
        Acl(HUB_USER, "READ", "GROUP", group_id, False),
        Acl(HUB_USER, "READ", "GROUP", group_id + RUNTIME_GROUP_SUFFIX, False),
        Acl(HUB_USER, "WRITE", "TRANSACTIONAL_ID", f"{group_id}-", True),
        # A worker resuming waits until no transaction is open in its group's partition of
        # the offsets topic (hub/runtime/resume.py): it asks for that partition's offsets.
        Acl(HUB_USER, "DESCRIBE", "TOPIC", OFFSETS_TOPIC, False),
    ]


def reader_acls() -> list[Acl]:
    return [
        Acl(READER_USER, "READ", "TOPIC", NATIONAL_PREFIX, True),
        Acl(READER_USER, "READ", "GROUP", f"{READER_USER}.", True),
    ]


def wanted(
    departments: Iterable[str], topics: Iterable[Topic], group_id: str, admin_user: str | None
) -> Wanted:
    """The plan's goal; a ValueError where a department's name would take another user's
    place or rights."""
    codes = sorted(departments)
    for code in codes:
        if code in (HUB_USER, READER_USER, admin_user):
            raise ValueError(f"department {code!r} has the name of the {code} user")
        if "." in code:  # the prefixes of its topics and groups end in one
            raise ValueError(f"department {code!r}: a code has no dot")
        if group_id.startswith(f"{code}."):
            raise ValueError(
                f"department {code!r}: its groups ({code}.*) would take in the hub's ({group_id})"
            )
    acls = [acl for code in codes for acl in department_acls(code)]
    acls += hub_acls(group_id) + reader_acls()
    return Wanted(tuple(topics), (*codes, HUB_USER, READER_USER), tuple(acls))


def department_of(topic: str) -> str | None:
    """The department whose input or feedback topic this is, if it is one."""
    for prefix in (INPUT_PREFIX, FEEDBACK_PREFIX):
        if topic.startswith(prefix):
            return topic[len(prefix) :].split(".", 1)[0]
    return None


def plan(
    wanted: Wanted,
    current: Current,
    admin_user: str | None,
    has_password: Callable[[str], bool] = lambda user: True,
) -> Plan:
    """The steps from current to wanted: create what is missing, keep what is there,
    report what is there but not wanted, a topic with fewer partitions or other replicas
    than planned, and a user whose password file is missing (no one can be given it)."""
    result = Plan()
    steps = result.steps
    wanted_topics = {topic.name: topic for topic in wanted.topics}
    for topic in wanted.topics:
        held = current.topics.get(topic.name)
        if held is None:
            result.topics.append(topic)
            steps.append(Step("create", "topic", topic.name, topic.detail()))
        elif held[0] < topic.partitions or held[1] != topic.replicas:
            detail = (
                f"has {held[0]} partitions and {held[1]} replicas, planned "
                f"{topic.partitions} and {topic.replicas}: left as is"
            )
            steps.append(Step("report", "topic", topic.name, detail))
        else:
            steps.append(Step("keep", "topic", topic.name, topic.detail()))
    for name in sorted(set(current.topics) - set(wanted_topics)):
        code = department_of(name)
        if code is not None and code not in wanted.users:
            detail = f"department {code} is not in the registry: left as is"
            steps.append(Step("report", "topic", name, detail))
    for user in wanted.users:
        if user in current.users and not has_password(user):
            detail = "SCRAM-SHA-512, but no password file for it: left as is"
            steps.append(Step("report", "user", user, detail))
        elif user in current.users:
            steps.append(Step("keep", "user", user, "SCRAM-SHA-512"))
        else:
            result.users.append(user)
            steps.append(Step("create", "user", user, "SCRAM-SHA-512"))
    for user in sorted(current.users - set(wanted.users) - {admin_user}):
        steps.append(Step("report", "user", user, "not in the registry: left as is"))
    for acl in wanted.acls:
        if acl in current.acls:
            steps.append(Step("keep", "acl", acl.principal, acl.detail()))
        else:
            result.acls.append(acl)
            steps.append(Step("create", "acl", acl.principal, acl.detail()))
    for acl in sorted(current.acls - set(wanted.acls)):
        steps.append(
            Step("report", "acl", acl.principal, f"{acl.detail()}: not planned, left as is")
        )
    return result


def table(steps: Iterable[Step]) -> str:
    rows = [("ACTION", "KIND", "NAME", "DETAIL")]
    rows += [(s.action, s.kind, s.name, s.detail) for s in steps]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )
