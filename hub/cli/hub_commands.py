"""The hub's own commands: worker, simulate, run, bench, validate, schemas, kafka."""

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

from pelastus_hub.families import FAMILIES
from pelastus_hub.settings import HubSettings, settings_help


def add_commands(commands: Any) -> None:
    """Each command's parser, and its handler as `run`."""
    worker = commands.add_parser(
        "worker",
        help="run a hub worker (Faust app, web API, metrics)",
        description="One hub worker, configured by its environment.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.set_defaults(run=_worker)

    simulate = commands.add_parser("simulate", help="produce simulated department traffic")
    simulate.set_defaults(run=_simulate)
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
    run.set_defaults(run=_run)
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
    bench.set_defaults(run=_bench, command_parser=bench)
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
    validate.set_defaults(run=_validate)
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
    schemas.set_defaults(run=_schemas, command_parser=schemas)
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
    kafka.set_defaults(run=_kafka, command_parser=kafka)
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


def _run(args: argparse.Namespace) -> int:
    from pelastus_hub.tools.demo import run_demo

    return run_demo(args)


def _validate(args: argparse.Namespace) -> int:
    from pelastus_hub.client.validate import run_validate

    return run_validate(args)


def _schemas(args: argparse.Namespace) -> int:
    schemas_dir = args.schemas_dir or HubSettings().schemas_dir
    if args.action == "check" and (args.check_docs or args.output):
        args.command_parser.error("--check and --output go with 'schemas docs'")
    if args.action == "docs":
        from pelastus_hub.tools.contract_docs import REFERENCE, run_docs

        output = args.output or schemas_dir.parent / REFERENCE
        return run_docs(schemas_dir, output, args.check_docs)
    from pelastus_hub.tools.schema_compat import run_check

    return run_check(schemas_dir)


def _bench(args: argparse.Namespace) -> int:
    if args.secure and args.bootstrap_servers:
        args.command_parser.error(
            "--secure is for the local broker; connect to another one with the "
            "PELASTUS_HUB_* connection settings"
        )
    if args.messages < 1 or args.rounds < 1:
        args.command_parser.error("--messages and --rounds must be at least 1")
    from pelastus_hub.tools.bench import run_bench

    return run_bench(args)


def _kafka(args: argparse.Namespace) -> int:
    if args.keep_data and args.action != "stop":
        args.command_parser.error("--keep-data goes with 'kafka stop'")
    if args.secure and args.action != "start":
        args.command_parser.error("--secure goes with 'kafka start'")
    from pelastus_hub.tools import RUN_DIR
    from pelastus_hub.tools.localkafka import run_cli

    return run_cli(args.action, RUN_DIR / "kafka.json", args.keep_data, args.secure)


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


def _worker(args: argparse.Namespace) -> int:
    from pelastus_hub.runtime.app import create_app

    settings = HubSettings()
    app, _ = create_app(settings)
    faust_worker(app, settings).execute_from_commandline()
    return 0


def faust_worker(app: Any, settings: HubSettings) -> Any:
    """The Faust worker that runs the app, logging as the settings say."""
    import faust

    from pelastus_hub.runtime.logs import logging_config

    if settings.log_format == "json":
        # No banner either: every line a JSON object.
        config = logging_config(settings.log_level)
        worker = faust.Worker(app, loglevel=settings.log_level, logging_config=config, quiet=True)
    else:
        worker = faust.Worker(app, loglevel=settings.log_level)
    # At a level of warning or above, Faust's start-up spinner turns on every debug record
    # of every logger (the root logger at DEBUG, to spin on each): aiokafka's fetcher alone
    # then made a log record per partition per fetch, a fifth of the worker's CPU.
    worker.spinner = None
    return worker


def _simulate(args: argparse.Namespace) -> int:
    import signal

    from pelastus_hub.clients import ConnectFailed
    from pelastus_hub.contract.registry import Registry
    from pelastus_hub.tools.simulator import run

    settings = HubSettings()
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
