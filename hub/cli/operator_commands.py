"""The operators' commands: dead-letters, provision, group, state, kubernetes. All but
dead-letters need the `operator` extra, imported only when the command runs."""

import argparse
import sys
from pathlib import Path
from typing import Any

from pelastus_hub.settings import HubSettings


def add_commands(commands: Any) -> None:
    """Each command's parser, and its handler as `run`."""
    letters = commands.add_parser(
        "dead-letters",
        help="list, show, export or replay dead letters (hub.dead-letter)",
        description="Dead letters are named <partition>:<offset> on hub.dead-letter. Filters "
        "select by department, reason and the time the hub wrote them.",
    )
    letters.set_defaults(run=_dead_letters, command_parser=letters)
    letters.add_argument("action", choices=["list", "show", "export", "replay"])
    letters.add_argument("names", nargs="*", help="dead letters, <partition>:<offset>")
    letters.add_argument("--department", help="only this department's")
    letters.add_argument("--reason", help="only those of this reason code")
    letters.add_argument("--since", help="written at or after this time (ISO 8601, with offset)")
    letters.add_argument("--until", help="written at or before this time")
    letters.add_argument("--format", choices=["text", "json"], default="text", help="with list")
    letters.add_argument("--output", type=Path, help="with export: the JSONL file to write")
    letters.add_argument(
        "--dry-run", action="store_true", help="with replay: say what would go where, send nothing"
    )

    provision = commands.add_parser(
        "provision",
        help="create the registry's topics, SCRAM users and ACLs on the broker (idempotent)",
        description="Connects as the broker's admin (PELASTUS_HUB_* connection settings, "
        "password from PELASTUS_HUB_SASL_PASSWORD_FILE) and creates what is missing.",
    )
    provision.set_defaults(run=_provision)
    provision.add_argument(
        "--dry-run", action="store_true", help="print the plan as a table, change nothing"
    )
    provision.add_argument(
        "--secrets-dir",
        type=Path,
        default=Path(".run/secrets"),
        help="a <user>.password file per user: read if there, else made for a new user "
        "(default: .run/secrets)",
    )

    group = commands.add_parser(
        "group",
        help="the workers' consumer group: partitions and lag, or reset its offsets",
        description="The hub's consumer group (PELASTUS_HUB_GROUP_ID) over the input topics "
        "dept.<department>.<family>. Needs the operator extra.",
    )
    group.set_defaults(run=_group)
    group_actions = group.add_subparsers(dest="action", required=True)
    group_show = group_actions.add_parser(
        "show",
        help="members with their partitions, committed and end offsets and lag",
        description="The group's state, each member (client id, host, member id) with its "
        "partitions, and per input partition the committed offset, the end offset and the "
        "lag, with totals per member and department. A group with no members still shows "
        "its committed offsets.",
    )
    group_show.add_argument("--format", choices=["text", "json"], default="text")
    group_reset = group_actions.add_parser(
        "reset",
        help="move the group's offsets to a time, the earliest or the latest (workers stopped)",
        description="Moves every input partition's committed offset; refused while any worker "
        "is in the group, as Kafka moves no offsets of an active group: stop the workers "
        "first. Records read again whose unit, incident or station the state still holds end "
        "as `duplicate` or `stale`; bad ones are dead-lettered again and their departments "
        "get the feedback again. Records skipped are never processed.",
    )
    target = group_reset.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--to-time",
        metavar="TIME",
        help="each partition's first record at or after this time (ISO 8601 with a UTC "
        "offset, e.g. 2026-12-03T08:00+02:00), or its end if none",
    )
    target.add_argument("--to-earliest", action="store_true", help="the earliest records kept")
    target.add_argument("--to-latest", action="store_true", help="the end: skip what is there")
    group_reset.add_argument(
        "--dry-run", action="store_true", help="print the moves, change nothing"
    )

    state = commands.add_parser(
        "state",
        help="the hub's state: rebuild it from the input topics",
        description="The hub's state lives in the compacted topics hub.state.<family>. Needs "
        "the operator extra.",
    )
    state.set_defaults(run=_state)
    state_actions = state.add_subparsers(dest="action", required=True)
    rebuild = state_actions.add_parser(
        "rebuild",
        help="delete the state topics and reset the group to the earliest (workers stopped)",
        description="Refused while any worker runs. Moves the group's offsets to the "
        "earliest and deletes hub.state.<family>; the next worker to start creates them "
        "again and rebuilds the state from the inputs. State older than the inputs' "
        "retention is lost; the feedback and dead letters of bad records are sent again; "
        "national.capability and national.kpi are kept.",
    )
    rebuild.add_argument(
        "--dry-run", action="store_true", help="say what would be done, change nothing"
    )

    kubernetes = commands.add_parser(
        "kubernetes",
        help="Kubernetes resources generated from the registry",
        description="Resources for a Kubernetes deployment, generated from the registry "
        "(schemas/departments.json). Needs the operator extra.",
    )
    kubernetes.set_defaults(run=_kubernetes)
    kubernetes_actions = kubernetes.add_subparsers(dest="action", required=True)
    strimzi = kubernetes_actions.add_parser(
        "strimzi",
        help="write the Strimzi Kafka cluster, a KafkaTopic per topic and a KafkaUser per "
        "user with the provisioning plan's ACLs",
        description="Writes kafka.yaml, topics.yaml and users.yaml: what `pelastus-hub "
        "provision` would make, as resources of the Strimzi operator.",
    )
    strimzi.add_argument(
        "--output", type=Path, help="default: deploy/kubernetes/strimzi beside schemas/"
    )
    strimzi.add_argument(
        "--check", action="store_true", help="write nothing, fail if the files are out of date"
    )


def _dead_letters(args: argparse.Namespace) -> int:
    if (args.output is None) == (args.action == "export"):
        args.command_parser.error("--output goes with export, and export needs it")
    if args.dry_run and args.action != "replay":
        args.command_parser.error("--dry-run goes with replay")
    from pelastus_hub.clients import ConnectFailed, KafkaClients
    from pelastus_hub.contract.reasons import Reason
    from pelastus_hub.contract.registry import Registry
    from pelastus_hub.tools.dead_letters import run_cli

    settings = HubSettings()
    codes = Registry.load(settings.schemas_dir).codes
    try:
        return run_cli(args, KafkaClients.from_settings(settings), codes, {r.value for r in Reason})
    except (ConnectFailed, LookupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _needs_operator_extra(error: ImportError) -> int:
    print(f"error: {error}: pip install 'pelastus-hub[operator]'", file=sys.stderr)
    return 1


def _provision(args: argparse.Namespace) -> int:
    try:
        from pelastus_hub.tools.provision import run_provision
    except ImportError as error:
        return _needs_operator_extra(error)
    return run_provision(args.dry_run, args.secrets_dir)


def _group(args: argparse.Namespace) -> int:
    try:
        from pelastus_hub.tools.group_commands import run_reset, run_show
    except ImportError as error:
        return _needs_operator_extra(error)
    if args.action == "show":
        return run_show(args.format)
    return run_reset(args.to_time, args.to_earliest, args.dry_run)


def _state(args: argparse.Namespace) -> int:
    try:
        from pelastus_hub.tools.state_rebuild import run_rebuild
    except ImportError as error:
        return _needs_operator_extra(error)
    return run_rebuild(args.dry_run)


def _kubernetes(args: argparse.Namespace) -> int:
    try:
        from pelastus_hub.tools.strimzi import OUTPUT, run_strimzi
    except ImportError as error:
        return _needs_operator_extra(error)
    schemas_dir = HubSettings().schemas_dir
    return run_strimzi(schemas_dir, args.output or schemas_dir.parent / OUTPUT, args.check)
