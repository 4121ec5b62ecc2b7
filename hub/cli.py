"""pelastus-hub command line: worker, simulate, run, bench, validate, schemas, kafka,
dead-letters, provision, group, state, kubernetes."""

import argparse
import asyncio
import contextlib
import sys
from importlib import metadata
from pathlib import Path

from pydantic import ValidationError

from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings, SettingsError, explain, settings_help


def main(argv: list[str] | None = None) -> int:
    """The command line; settings that cannot be read end it with their explanation and
    exit code 2, as a usage error does."""
    try:
        return _main(argv)
    except ValidationError as error:
        print(f"error: the settings cannot be used:\n{explain(error)}", file=sys.stderr)
    except SettingsError as error:
        print(f"error: the settings cannot be used:\n{error}", file=sys.stderr)
    return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="pelastus-hub",
        description="Event exchange of Finland's rescue departments. Configuration comes from "
        "PELASTUS_HUB_* environment variables (see README).",
    )
    # The command runs only from an installed distribution: its version is there.
    installed = metadata.version("pelastus-hub")
    parser.add_argument("--version", action="version", version=f"pelastus-hub {installed}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser(
        "worker",
        help="run a hub worker (Faust app, web API, metrics)",
        description="One hub worker, configured by its environment.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    simulate = commands.add_parser("simulate", help="produce simulated department traffic")
    _simulation_options(simulate)
    simulate.add_argument(
        "--truth", type=Path, help="write the ground truth of what was sent to this JSON file"
    )
    simulate.add_argument(
        "--credentials-dir",
        type=Path,
        help="each department sends as its own user (its code), with the password in "
        "<code>.password here (as `pelastus-hub provision` writes them)",
    )

    run = commands.add_parser(
        "run", help="the demo: local Kafka, a worker and simulated traffic, until Ctrl-C"
    )
    _simulation_options(run, default_rate=200.0)
    run.add_argument(
        "--secure",
        action="store_true",
        help="a secured broker (TLS, SCRAM, ACLs), provisioned from the registry; the hub "
        "and each department log in as their own users",
    )
    run.add_argument(
        "--status-every",
        type=float,
        default=10.0,
        help="seconds between status lines: snapshot, outcomes, worker memory, lag and state",
    )

    bench = commands.add_parser(
        "bench",
        help="throughput against reference pipelines and Quix Streams, scale-out, latency",
    )
    bench.add_argument(
        "--messages", type=int, default=200_000, help="messages per pipeline and round"
    )
    bench.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved throughput rounds; the report gives the medians of their ratios",
    )
    bench.add_argument(
        "--skip-faust",
        action="store_true",
        help="leave out (b), the plain Faust agent, the slowest pipeline: for quick runs",
    )
    bench.add_argument(
        "--skip-quix",
        action="store_true",
        help="leave out (q), the Quix Streams peer, and the venv it needs (made once, cached)",
    )
    bench.add_argument("--latency-rate", type=float, default=2000.0, help="msgs/s, latency phase")
    bench.add_argument("--latency-seconds", type=float, default=20.0, help="latency phase length")
    bench.add_argument(
        "--snapshot-interval", type=float, default=1.0, help="seconds, latency phase"
    )
    bench.add_argument("--bootstrap-servers", help="use this broker instead of a local one")
    bench.add_argument(
        "--secure",
        action="store_true",
        help="the local broker secured: every pipeline over TLS, logged in with SCRAM",
    )

    validate = commands.add_parser(
        "validate", help="check messages against the hub's rules, without a broker"
    )
    validate.add_argument(
        "paths", nargs="+", help="files of one CloudEvent each, .jsonl files, or -"
    )
    validate.add_argument(
        "--jsonl", action="store_true", help="one message per line in every input"
    )
    validate.add_argument(
        "--department", help="the department whose topic they go to (default: data.department)"
    )
    validate.add_argument(
        "--key", help="the record key they are sent with (default: the entity id)"
    )
    validate.add_argument(
        "--family",
        choices=sorted(FAMILIES),
        help="the messages are bare payloads of this family (an event's data), no envelope",
    )
    validate.add_argument("--format", choices=["text", "json"], default="text")

    schemas = commands.add_parser("schemas", help="the contract's schemas")
    schemas.add_argument(
        "action",
        choices=["check", "docs"],
        help="check: every revision accepts all an earlier one of its major version accepted; "
        "docs: write the contract reference (docs/contract.md)",
    )
    schemas.add_argument("--schemas-dir", type=Path, help="default: the hub's schemas/ folder")
    schemas.add_argument(
        "--check",
        action="store_true",
        dest="check_docs",
        help="with docs: write nothing, fail if the reference is out of date",
    )
    schemas.add_argument(
        "--output", type=Path, help="with docs: default docs/contract.md beside schemas/"
    )

    kafka = commands.add_parser("kafka", help="the local Apache Kafka broker for development")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.add_argument(
        "--secure",
        action="store_true",
        help="with start: TLS, SCRAM-SHA-512 logins and ACLs; an admin user provisions it",
    )
    kafka.add_argument(
        "--keep-data",
        action="store_true",
        help="with stop: keep the data folder and ports; the next start restarts the broker "
        "on them (a broker outage)",
    )

    letters = commands.add_parser(
        "dead-letters",
        help="list, show, export or replay dead letters (hub.dead-letter)",
        description="Dead letters are named <partition>:<offset> on hub.dead-letter. Filters "
        "select by department, reason and the time the hub wrote them.",
    )
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

    args = parser.parse_args(argv)
    if args.command == "worker":
        return _worker()
    if args.command == "simulate":
        return _simulate(HubSettings(), args)
    if args.command == "run":
        from pelastus_hub.tools.demo import run_demo

        return run_demo(args)
    if args.command == "validate":
        from pelastus_hub.client.validate import run_validate

        return run_validate(args)
    if args.command == "schemas":
        schemas_dir = args.schemas_dir or HubSettings().schemas_dir
        if args.action == "check" and (args.check_docs or args.output):
            parser.error("--check and --output go with 'schemas docs'")
        if args.action == "docs":
            from pelastus_hub.tools.contract_docs import REFERENCE, run_docs

            output = args.output or schemas_dir.parent / REFERENCE
            return run_docs(schemas_dir, output, args.check_docs)
        from pelastus_hub.tools.schema_compat import run_check

        return run_check(schemas_dir)
    if args.command == "bench":
        if args.secure and args.bootstrap_servers:
            parser.error(
                "--secure is for the local broker; connect to another one with the "
                "PELASTUS_HUB_* connection settings"
            )
        if args.messages < 1 or args.rounds < 1:
            parser.error("--messages and --rounds must be at least 1")
        from pelastus_hub.tools.bench import run_bench

        return run_bench(args)
    if args.command == "dead-letters":
        if (args.output is None) == (args.action == "export"):
            parser.error("--output goes with export, and export needs it")
        if args.dry_run and args.action != "replay":
            parser.error("--dry-run goes with replay")
        return _dead_letters(args)
    if args.command == "provision":
        try:
            from pelastus_hub.tools.provision import run_provision
        except ImportError as error:
            return _needs_operator_extra(error)
        return run_provision(args.dry_run, args.secrets_dir)
    if args.command == "group":
        return _group(args)
    if args.command == "state":
        return _state(args)
    if args.command == "kubernetes":
        return _kubernetes(args)
    if args.keep_data and args.action != "stop":
        parser.error("--keep-data goes with 'kafka stop'")
    if args.secure and args.action != "start":
        parser.error("--secure goes with 'kafka start'")
    from pelastus_hub.tools import RUN_DIR
    from pelastus_hub.tools.localkafka import run_cli

    return run_cli(args.action, RUN_DIR / "kafka.json", args.keep_data, args.secure)


def _dead_letters(args: argparse.Namespace) -> int:
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


def _simulation_options(parser: argparse.ArgumentParser, default_rate: float = 100.0) -> None:
    parser.add_argument("--seed", type=int, default=1, help="same seed, same messages")
    parser.add_argument("--rate", type=float, default=default_rate, help="messages per second")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--count", type=int, help="stop after this many messages")
    parser.add_argument("--invalid-share", type=float, default=0.02, help="share of bad messages")
    parser.add_argument("--duplicate-share", type=float, default=0.01, help="share re-sent")
    parser.add_argument(
        "--out-of-order-share", type=float, default=0.01, help="share older than unit state"
    )
    parser.add_argument(
        "--binary-share", type=float, default=0.1, help="share in CloudEvents binary mode"
    )
    parser.add_argument(
        "--send-retries",
        type=int,
        default=5,
        help="times a message the broker did not take is sent again",
    )
    parser.add_argument(
        "--retry-backoff",
        type=float,
        default=0.5,
        help="seconds before the first resend, doubled for each further one up to 10",
    )


def _worker() -> int:
    import faust

    from pelastus_hub.runtime.app import create_app
    from pelastus_hub.runtime.logs import logging_config

    settings = HubSettings()
    app, _ = create_app(settings)
    if settings.log_format == "json":
        # No banner either: every line a JSON object.
        config = logging_config(settings.log_level)
        worker = faust.Worker(app, loglevel=settings.log_level, logging_config=config, quiet=True)
    else:
        worker = faust.Worker(app, loglevel=settings.log_level)
    worker.execute_from_commandline()
    return 0


def _simulate(settings: HubSettings, args: argparse.Namespace) -> int:
    import signal

    from pelastus_hub.clients import ConnectFailed
    from pelastus_hub.contract.registry import Registry
    from pelastus_hub.tools.simulator import run

    registry = Registry.load(settings.schemas_dir)

    async def simulate() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        # SIGTERM stops it as Ctrl-C does: run() stops sending, flushes what it has, prints
        # its summary and writes --truth. Only the first signal counts: a second one must
        # not cut that short. Handlers set here also replace an inherited SIG_IGN.
        stop_signals = (signal.SIGINT, signal.SIGTERM)

        def stop() -> None:
            for signum in stop_signals:
                loop.add_signal_handler(signum, lambda: None)
            task.cancel()

        for signum in stop_signals:
            loop.add_signal_handler(signum, stop)
        await run(
            settings,
            registry,
            seed=args.seed,
            rate=args.rate,
            duration=args.duration,
            count=args.count,
            invalid_share=args.invalid_share,
            duplicate_share=args.duplicate_share,
            out_of_order_share=args.out_of_order_share,
            binary_share=args.binary_share,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            truth=args.truth,
            send_retries=args.send_retries,
            retry_backoff=args.retry_backoff,
            credentials_dir=args.credentials_dir,
        )

    # Cancelled is how a signal stops it; Ctrl-C before the loop runs is a KeyboardInterrupt.
    with contextlib.suppress(asyncio.CancelledError, KeyboardInterrupt):
        try:
            asyncio.run(simulate())
        except ConnectFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
