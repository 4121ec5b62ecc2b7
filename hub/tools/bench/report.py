"""The bench's report: throughput and its ratios against their targets, latency, memory."""

import argparse

from pelastus_hub.picture.kpi import nearest_rank
from pelastus_hub.tools.localkafka import kafka_version

TARGETS = {"c/a": 0.35, "c/b": 3.0}


def report(
    rates: dict[str, float], latencies: list[float], sent: int, rss: int, args: argparse.Namespace
) -> None:
    ratios = {"c/a": rates["c"] / rates["a"], "c/b": rates["c"] / rates["b"]}
    print(f"pelastus-hub bench: {args.messages} messages per pipeline, Kafka {kafka_version()}")
    print(f"  (a) aiokafka getmany + validation + latest per unit  {rates['a']:>10,.0f} msgs/s")
    print(f"  (b) plain Faust agent, same work                     {rates['b']:>10,.0f} msgs/s")
    print(f"  (c) hub worker, full pipeline                        {rates['c']:>10,.0f} msgs/s")
    for name, value in ratios.items():
        verdict = "meets" if value >= TARGETS[name] else "BELOW"
        print(f"  {name} = {value:.2f}   ({verdict} the target {TARGETS[name]:g})")
    if latencies:
        print(
            f"  latency, produce to published snapshot, at {args.latency_rate:g} msgs/s with snapshots every "
            f"{args.snapshot_interval:g} s: p50 {nearest_rank(latencies, 0.5):.3f} s, "
            f"p99 {nearest_rank(latencies, 0.99):.3f} s ({len(latencies)} of {sent} messages seen)"
        )
    else:
        print("  latency: no message was seen in a snapshot")
    print(f"  worker peak RSS: {rss / 2**20:.0f} MiB")
