"""`pelastus-hub state rebuild`: the hub's state built anew from the input topics.

With no worker running, it moves the group's offsets to the earliest and deletes the state
changelogs (hub.state.<family>). The next worker to start creates them again, compacted
(pelastus_hub.runtime.topic_admin), and builds the state from every input record.
"""

from pelastus_hub.contract.topics import CAPABILITY, KPI, state_topic
from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.group_commands import guarded, idle_group, say
from pelastus_hub.tools.group_plan import reset_plan

MEANING = f"""\
What a rebuild means:
- The state is built from what the input topics still hold: a unit, incident or station
  whose records are all older than the inputs' retention is lost.
- Every input record is processed again: departments get the feedback of their bad
  records again (and late_for_kpi_window warnings for incidents of KPI windows already
  closed), and hub.dead-letter gets their dead letters again.
- {CAPABILITY} and {KPI} are kept: the snapshot sequence goes on from the last
  snapshot, and a KPI window closed on {KPI} is not published again.
- Until the workers have read the inputs again, their snapshots show what they have
  read so far: `pelastus-hub group show` tells the lag left."""

NEXT = """\
Start the workers: the first creates the state topics again and reads the inputs from
the earliest offsets. On a secured cluster, where the hub's user may not create topics,
run `pelastus-hub provision` first."""


def run_rebuild(dry_run: bool) -> int:
    settings = HubSettings()

    def rebuild() -> int:
        admin, group = idle_group(settings, "rebuild the state")
        topics = admin.topics()
        changelogs = [state_topic(family) for family in sorted(FAMILIES)]
        present = [name for name in changelogs if name in topics]
        moves = reset_plan(group.partitions, {o.key: o.earliest for o in group.partitions})
        moving = {move.offsets.key: move.new for move in moves if move.changes}
        again = sum(move.again for move in moves)
        verb = "would" if dry_run else "will"
        print(f"{verb} delete: {', '.join(present) or 'none (no state topic on the broker)'}")
        print(
            f"{verb} move the offsets of {len(moving)} input partitions of group "
            f"{settings.group_id} to the earliest: {again} records to read again"
        )
        print(MEANING)
        if dry_run:
            print("dry run: nothing changed")
            return 0
        # Offsets first: should the deletion fail, the inputs are read again over the state
        # kept, and end as duplicates; the other way round, a state deleted with the offsets
        # left would lose every record before them.
        admin.move(settings.group_id, moving)
        say(f"moved the offsets of {len(moving)} input partitions to the earliest")
        if present:
            admin.delete(present, say)
        print(f"rebuild prepared: state topics deleted, group {settings.group_id} at the earliest")
        print(NEXT)
        return 0

    return guarded(rebuild)
