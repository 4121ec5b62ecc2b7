"""The provisioning plan from the registry: what is created, kept and reported."""

import pytest
from confluent_kafka.admin import AclPermissionType

from pelastus_hub.tools.provision.broker_admin import _acl, _binding
from pelastus_hub.tools.provision.passwords import Passwords
from pelastus_hub.tools.provision.plan import (
    HUB_USER,
    READER_USER,
    Acl,
    Current,
    Topic,
    department_of,
    plan,
    table,
    wanted,
)

TOPICS = (
    Topic("dept.helsinki.incident", 3, 1),
    Topic("dept.lappi.incident", 3, 1),
    Topic("feedback.helsinki", 1, 1, (("max.message.bytes", "1114112"),)),
    Topic("feedback.lappi", 1, 1),
    Topic("hub.dead-letter", 3, 1),
)
GOAL = wanted(["lappi", "helsinki"], TOPICS, "pelastus-hub", "admin")
NOTHING = Current({}, frozenset(), frozenset())


def everything() -> Current:
    return Current(
        {t.name: (t.partitions, t.replicas) for t in TOPICS},
        frozenset({*GOAL.users, "admin"}),
        frozenset(GOAL.acls),
    )


def test_a_department_writes_its_inputs_reads_its_feedback_and_the_national_outputs():
    mine = {acl.detail() for acl in GOAL.acls if acl.principal == "lappi"}
    assert mine == {
        "WRITE topic dept.lappi.*",
        "READ topic feedback.lappi",
        "READ topic national.*",
        "READ group lappi.*",
    }
    # The trailing dot: a department's prefix covers no other department's names.
    assert all(
        acl.name.endswith(".") for acl in GOAL.acls if acl.prefixed and acl.principal == "lappi"
    )
    assert GOAL.users == ("helsinki", "lappi", HUB_USER, READER_USER)


def test_only_the_hub_touches_hub_topics_and_the_reader_only_reads_national_ones():
    on_hub = {acl.principal for acl in GOAL.acls if acl.name.startswith("hub.")}
    assert on_hub == {HUB_USER}
    reader = {acl.detail() for acl in GOAL.acls if acl.principal == READER_USER}
    assert reader == {"READ topic national.*", "READ group national-reader.*"}
    hub = {acl.detail() for acl in GOAL.acls if acl.principal == HUB_USER}
    assert "READ topic dept.*" in hub and "WRITE topic dept.*" not in hub
    assert "WRITE transactional id pelastus-hub-*" in hub
    # Its two groups by name, so that no department's group is the hub's.
    assert {"READ group pelastus-hub", "READ group pelastus-hub-runtime"} < hub
    # What a resuming worker asks of its group's partition of the offsets topic.
    assert "DESCRIBE topic __consumer_offsets" in hub


@pytest.mark.parametrize(
    ("codes", "group_id", "refused"),
    [
        (["lappi", "pelastus-hub"], "pelastus-hub", "has the name of the pelastus-hub user"),
        (["national-reader"], "pelastus-hub", "has the name of the national-reader user"),
        (["admin"], "pelastus-hub", "has the name of the admin user"),
        (["lappi"], "lappi.hub", "would take in the hub's"),
        (["lappi.north"], "pelastus-hub", "a code has no dot"),
    ],
)
def test_a_department_cannot_be_named_into_another_users_rights(codes, group_id, refused):
    with pytest.raises(ValueError, match=refused):
        wanted(codes, TOPICS, group_id, "admin")


def test_the_plans_acls_read_back_from_the_brokers_form_as_they_were():
    """What describe_acls returns (confluent-kafka's bindings) compares equal to the plan,
    which is what makes a second run keep every ACL."""
    assert [_acl(_binding(acl)) for acl in GOAL.acls] == list(GOAL.acls)
    denied = _binding(GOAL.acls[0])
    denied.permission_type = AclPermissionType.DENY
    assert _acl(denied) is None  # reported as it is, never taken for a planned one


def test_on_an_empty_broker_everything_is_created():
    result = plan(GOAL, NOTHING, "admin")
    assert result.topics == list(TOPICS)
    assert result.users == list(GOAL.users)
    assert result.acls == list(GOAL.acls)
    assert result.changes == len(TOPICS) + 4 + len(GOAL.acls)
    assert {s.action for s in result.steps} == {"create"}


def test_a_second_run_changes_nothing():
    result = plan(GOAL, everything(), "admin")
    assert result.changes == 0
    assert {s.action for s in result.steps} == {"keep"}  # the admin is no one to report


def test_what_the_registry_no_longer_has_is_reported_never_removed():
    held = everything()
    extra = Acl("lappi", "READ", "TOPIC", "hub.dead-letter", False)
    held = Current(
        {**held.topics, "dept.kainuu.incident": (3, 1), "hub.dead-letter": (1, 1)},
        held.users | {"kainuu"},
        held.acls | {extra},
    )
    result = plan(GOAL, held, "admin")
    assert result.changes == 0
    reported = [(s.kind, s.name, s.detail) for s in result.steps if s.action == "report"]
    assert reported == [
        (
            "topic",
            "hub.dead-letter",
            "has 1 partitions and 1 replicas, planned 3 and 1: left as is",
        ),
        ("topic", "dept.kainuu.incident", "department kainuu is not in the registry: left as is"),
        ("user", "kainuu", "not in the registry: left as is"),
        ("acl", "lappi", "READ topic hub.dead-letter: not planned, left as is"),
    ]


def test_a_user_without_a_password_file_is_reported():
    result = plan(GOAL, everything(), "admin", has_password=lambda user: user != "lappi")
    reported = [(s.kind, s.name, s.detail) for s in result.steps if s.action == "report"]
    assert reported == [("user", "lappi", "SCRAM-SHA-512, but no password file for it: left as is")]
    assert result.changes == 0


def test_the_plan_prints_as_an_aligned_table():
    lines = table(plan(GOAL, NOTHING, "admin").steps[:2]).splitlines()
    assert lines[0].split() == ["ACTION", "KIND", "NAME", "DETAIL"]
    assert lines[1].split()[:3] == ["create", "topic", "dept.helsinki.incident"]
    assert len({line.index(line.split()[3]) for line in lines}) == 1  # DETAIL lines up


def test_a_password_is_made_once_privately_and_a_given_one_is_kept(tmp_path):
    said: list[str] = []
    passwords = Passwords(tmp_path / "secrets", said.append)
    made = passwords.password("lappi")
    assert len(made) >= 32 and passwords.password("lappi") == made
    assert passwords.path("lappi").stat().st_mode & 0o777 == 0o600
    assert said == [f"provision: a new password for lappi in {passwords.path('lappi')}"]
    assert made.decode() not in "".join(said)
    passwords.path("helsinki").write_text("chosen-by-helsinki\n")
    assert passwords.password("helsinki") == b"chosen-by-helsinki"
    passwords.path("lappi").chmod(0o644)
    passwords.path("lappi").unlink()
    (tmp_path / "elsewhere").write_text("x")
    passwords.path("lappi").symlink_to(tmp_path / "elsewhere")
    assert passwords.password("lappi") == b"x"  # read, but never written through a link


@pytest.mark.parametrize("topic", ["dept.lappi.incident", "feedback.lappi"])
def test_a_department_topic_names_its_department(topic):
    assert department_of(topic) == "lappi"
