"""`pelastus-hub bench`: the hub's worker against reference pipelines, in one run, on one broker.

Pipelines, each reading the same N pre-produced simulated messages with a consumer
group of its own, in this process:
  (a) aiokafka getmany batches + the same pydantic models + latest state per unit
      in a dict: the practical limit of Python on this machine;
  (b) a plain Faust agent doing the same work per event: what Faust alone gives;
  (c) the hub's worker (pelastus_hub.runtime.app.create_app) as it runs in production:
      outcomes, dead letters and feedback, state changelog, commits, metrics.
Throughput is counted from the first record received to the last one processed,
so that group joins and start-up do not count. Machines here are noisy: read
the ratios c/a and c/b, which come from one run, rather than the absolute rates.

Then the production worker (`pelastus-hub worker`, a child process logging to
.run/bench-worker.log) consumes the same backlog and a steady load, for the latency
from produce to a published snapshot and the worker's peak RSS.
"""

import argparse
import asyncio

from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.bench.latency import production_worker
from pelastus_hub.tools.bench.pipelines import say, throughput
from pelastus_hub.tools.bench.report import report
from pelastus_hub.tools.localkafka import LocalKafka


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
        rates = asyncio.run(throughput(settings, registry, args.messages))
        latencies, rss = production_worker(settings, registry, args, worker_env)
        report(rates, latencies, int(args.latency_rate * args.latency_seconds), rss, args)
        return 0
    finally:
        if kafka is not None:
            kafka.stop()
