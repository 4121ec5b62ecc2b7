"""`pelastus-hub bench`: the hub's worker against reference pipelines and a peer, in one run,
on one broker (docs/benchmark.md says how and why).

1. Throughput, in interleaved rounds (rounds.py), each pipeline reading the round's backlog
   with a consumer group of its own:
     (a) aiokafka getmany batches + the same pydantic models + latest state per unit in a
         dict: the practical limit of Python on this machine (pipelines.py);
     (b) a plain Faust agent doing the same work per event: what Faust alone gives;
     (c) the hub's worker as it runs in production, in this process;
     (q) Quix Streams doing (a)'s work with its own state, in a child process on a venv of
         its own (peer.py, quix_pipeline.py, quix_venv.py).
   Rates count from the first record received to the last one processed; CPU per record is
   the pipeline's process CPU time in that span. Machines here are noisy: read the medians
   of the ratios, each ratio from one round.
2. Scale-out (scale_out.py): 1, then 2 `pelastus-hub worker` child processes in one group.
3. Latency and memory (latency.py): a `pelastus-hub worker` child process consumes a backlog,
   then a steady load, for the latency from produce to a published snapshot and its peak RSS.
"""

import argparse
import asyncio

from pelastus_hub.clients import KafkaClients
from pelastus_hub.contract.registry import Registry
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime import topic_admin
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.bench.backlog import Backlogs, say
from pelastus_hub.tools.bench.figures import PIPELINES
from pelastus_hub.tools.bench.latency import production_worker
from pelastus_hub.tools.bench.quix_venv import QuixUnavailable, quix_python
from pelastus_hub.tools.bench.report import Results, report_lines
from pelastus_hub.tools.bench.rounds import Rounds
from pelastus_hub.tools.bench.scale_out import WORKERS, scale_out
from pelastus_hub.tools.localkafka import LocalKafka, kafka_version


def run_bench(args: argparse.Namespace) -> int:
    settings = HubSettings()
    registry = Registry.load(settings.schemas_dir)
    kafka = None
    try:
        worker_env: dict[str, str] = {}
        if args.bootstrap_servers:
            settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap_servers})
        else:
            kafka = LocalKafka(progress=say, secure=args.secure)
            kafka.start()
            # On a secured broker every pipeline logs in as its admin, over TLS.
            settings = kafka.settings(base=settings)
            worker_env = kafka.environment()
        results = _measure(settings, registry, args, worker_env, kafka.pid if kafka else None)
        header = (
            f"pelastus-hub bench: {args.messages} messages per pipeline and round, "
            f"{args.rounds} round{'s' * (args.rounds > 1)}, Kafka {kafka_version()}"
        )
        print("\n".join(report_lines(results, header)))
        return 0
    finally:
        if kafka is not None:
            kafka.stop()


def _measure(
    settings: HubSettings,
    registry: Registry,
    args: argparse.Namespace,
    worker_env: dict[str, str],
    broker_pid: int | None,
) -> Results:
    asyncio.run(
        topic_admin.create_hub_topics(
            settings, registry.codes, FAMILIES, KafkaClients.from_settings(settings)
        )
    )
    missing: dict[str, str] = {}
    if args.skip_faust:
        missing["b"] = "skipped (--skip-faust)"
    quix = None
    if args.skip_quix:
        missing["q"] = "skipped (--skip-quix)"
    else:
        try:
            quix = quix_python(say)
        # OSError: the cache folder cannot be written, say.
        except (QuixUnavailable, OSError) as error:
            say(f"the Quix Streams peer is missing: {error}")
            missing["q"] = f"missing: {error}"
    # The warm-up's backlog, one for each round, then one for each scale-out run.
    backlogs = Backlogs(registry, args.messages, 1 + args.rounds + len(WORKERS))
    input_topics = sorted(t for family in FAMILIES for t in registry.input_topics(family))
    unit_status_topics = sorted(registry.input_topics("unit-status"))
    rounds = Rounds(settings, backlogs, unit_status_topics, input_topics, quix, broker_pid)
    measured = rounds.run([p for p in PIPELINES if p not in missing], args.rounds)
    if rounds.quix_missing:
        missing["q"] = f"missing after a failure: {rounds.quix_missing}"
    runs, last_backlog = scale_out(
        settings, backlogs, 1 + args.rounds, input_topics, worker_env, args.snapshot_interval
    )
    phase = production_worker(settings, registry, args, worker_env, last_backlog)
    return Results(
        messages=args.messages,
        rounds=measured,
        missing=missing,
        scale_out=runs,
        latency=phase,
        latency_rate=args.latency_rate,
        snapshot_interval=args.snapshot_interval,
    )
