"""The consumer group's lag table and the offset reset plan, from offsets as the broker tells
them: no broker here."""

from pelastus_hub.tools.group_plan import (
    REREAD_MEANING,
    Group,
    Member,
    Offsets,
    busy,
    plan_text,
    reset_plan,
    show_text,
)

UNITS = "dept.pirkanmaa.unit-status"
INCIDENTS = "dept.lappi.incident"
WORKER = Member("m-1", "aiokafka-0.14.0", "/10.0.0.5", "pelastus-hub", ((UNITS, 0), (UNITS, 1)))


def group(*partitions: Offsets, members: tuple[Member, ...] = (WORKER,)) -> Group:
    return Group("pelastus-hub", "Stable", members, partitions)


def test_lag_is_end_minus_committed_and_totals_go_by_member_and_department():
    shown = group(
        Offsets(UNITS, 0, 0, 50, 40),
        Offsets(UNITS, 1, 0, 7, 7),
        Offsets(INCIDENTS, 2, 0, 12, 3),
    )
    assert [p.lag for p in shown.partitions] == [10, 0, 9]
    assert shown.lag_by_member() == {"m-1": 10}
    assert shown.lag_by_department() == {"lappi": 9, "pirkanmaa": 10}
    assert shown.lag == 19
    document = shown.as_json()
    assert document["members"][0]["partitions"] == [f"{UNITS}/0", f"{UNITS}/1"]
    assert [p["member_id"] for p in document["partitions"]] == ["m-1", "m-1", None]


def test_a_never_committed_partition_is_read_from_its_earliest_and_says_so():
    never = Offsets(UNITS, 0, 4, 30, None)
    assert never.position == 4 and never.lag == 26
    assert never.as_json()["never_committed"] is True
    assert "never committed" in show_text(group(never))


def test_records_gone_by_retention_are_no_lag():
    # Committed at 5, but the log now begins at 20: a worker reads on from 20.
    assert Offsets(UNITS, 0, 20, 30, 5).lag == 10


def test_a_group_without_members_still_shows_its_offsets_and_lag():
    text = show_text(group(Offsets(UNITS, 0, 0, 9, 4), members=()))
    assert "0 members, lag 5 records" in text
    assert "not assigned to any member: 1 input partition" in text
    assert f"{UNITS}/0" in text and "pirkanmaa" in text


def test_partitions_without_records_are_counted_not_listed():
    text = show_text(group(Offsets(UNITS, 0, 0, 3, 3), Offsets(UNITS, 1, 0, 0, None)))
    assert f"{UNITS}/0" in text and f"{UNITS}/1" not in text
    assert "(1 partition without any record)" in text


def test_a_reset_moves_back_or_forward_and_counts_the_records():
    back = Offsets(UNITS, 0, 0, 50, 40)
    ahead = Offsets(UNITS, 1, 0, 50, 10)
    same = Offsets(UNITS, 2, 0, 50, 25)
    moves = reset_plan([back, ahead, same], {back.key: 30, ahead.key: 45, same.key: 25})
    assert [(m.new, m.again, m.skipped, m.changes) for m in moves] == [
        (30, 10, 0, True),
        (45, 0, 35, True),
        (25, 0, 0, False),
    ]
    text = plan_text(moves)
    assert f"{UNITS}/0" in text and "40 ->" in text and "10 read again" in text
    assert "35 skipped" in text and f"{UNITS}/2" not in text
    assert "2 partitions to move (1 stay): 10 records read again, 35 skipped" in text


def test_no_record_after_the_time_is_the_end_and_targets_stay_within_the_log():
    offsets = Offsets(UNITS, 0, 10, 50, 20)
    (none_after,) = reset_plan([offsets], {offsets.key: None})
    assert none_after.new == 50 and none_after.skipped == 30
    (before_log,) = reset_plan([offsets], {offsets.key: 3})
    assert before_log.new == 10 and before_log.again == 10


def test_a_never_committed_partition_reset_to_its_earliest_does_not_move():
    never = Offsets(UNITS, 0, 0, 12, None)
    (move,) = reset_plan([never], {never.key: 0})
    assert not move.changes
    (latest,) = reset_plan([never], {never.key: 12})
    assert latest.changes and latest.skipped == 12
    row = plan_text([latest]).splitlines()[1]
    assert row.split() == [f"{UNITS}/0", "-", "->", "12", "12", "skipped"]


def test_partitions_without_a_target_stay_out_of_the_plan():
    assert reset_plan([Offsets(UNITS, 0, 0, 5, 5)], {}) == []


def test_workers_in_the_group_are_named_in_the_refusal():
    runtime = Member("f-1", "faust-0.15.3", "/10.0.0.6", "pelastus-hub-runtime")
    refusal = busy([WORKER, runtime], "reset the offsets")
    assert refusal is not None and "stop the workers first" in refusal
    assert "aiokafka-0.14.0 on /10.0.0.5 (member m-1 of pelastus-hub)" in refusal
    assert "faust-0.15.3 on /10.0.0.6" in refusal and "\n" not in refusal
    assert busy([], "reset the offsets") is None


def test_re_reading_is_explained():
    assert "`duplicate` or `stale`" in REREAD_MEANING and "dead-lettered" in REREAD_MEANING
