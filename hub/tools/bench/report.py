"""The bench's report, as lines of text: the rounds' rates and CPU per record, the medians of
the ratios, scale-out, latency and memory, and the summary against the targets."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pelastus_hub.picture.kpi import nearest_rank
from pelastus_hub.tools.bench.figures import (
    PIPELINES,
    RATIOS,
    Measurement,
    Round,
    Summary,
    median_broker_cpu,
    median_cpu,
    median_ratio,
    ratios,
    summary_lines,
)
from pelastus_hub.tools.bench.latency import LatencyPhase
from pelastus_hub.tools.bench.quix_venv import QUIX_VERSION

LABELS = {
    "a": "(a) aiokafka getmany + validation + latest per unit",
    "b": "(b) plain Faust agent, same work",
    "c": "(c) hub worker, full pipeline",
    "q": f"(q) Quix Streams {QUIX_VERSION}, validation + State",
}


@dataclass(frozen=True)
class Results:
    messages: int
    rounds: Sequence[Round]
    # Why a pipeline has no figures, by its name ("skipped", or what failed).
    missing: Mapping[str, str]
    scale_out: Mapping[int, Measurement]
    latency: LatencyPhase
    latency_rate: float
    snapshot_interval: float


def throughput_lines(results: Results) -> list[str]:
    rounds = results.rounds
    width = max(len(label) for label in LABELS.values())
    heads = "".join(f"{f'round {i}':>10}" for i in range(1, len(rounds) + 1))
    lines = [
        "throughput, msgs/s in each round (new backlog per round, order turning), and CPU "
        "µs/record (median) of the pipeline and of the broker serving it:",
        f"  {'':<{width}}{heads}  {'CPU µs/rec':>10}  {'broker':>7}",
    ]
    for name in PIPELINES:
        if name in results.missing and not any(name in r for r in rounds):
            lines.append(f"  {LABELS[name]:<{width}}  {results.missing[name]}")
            continue
        rates = "".join(f"{r[name].rate:>10,.0f}" if name in r else f"{'-':>10}" for r in rounds)
        cpu = median_cpu(rounds, name)
        broker = median_broker_cpu(rounds, name)
        served = f"{broker:>7.1f}" if broker is not None else f"{'-':>7}"
        note = f"  ({results.missing[name]})" if name in results.missing else ""
        lines.append(f"  {LABELS[name]:<{width}}{rates}  {cpu:>10.1f}  {served}{note}")
    for name in RATIOS:
        value = median_ratio(rounds, name)
        if value is None:
            lines.append(f"  {name} = -     (not measured)")
            continue
        each = ", ".join(f"{v:.2f}" for v in ratios(rounds, name))
        lines.append(f"  {name} = {value:.2f}  (median of the rounds: {each})")
    return lines


def scale_out_lines(runs: Mapping[int, Measurement], messages: int) -> list[str]:
    lines = [
        f"scale-out, `pelastus-hub worker` processes in one group, {messages} messages over "
        f"all partitions:"
    ]
    for workers, run in runs.items():
        lines.append(
            f"  {workers} worker{'s' if workers > 1 else ' '}  {run.rate:>10,.0f} msgs/s   "
            f"CPU {run.cpu_us_per_record:.1f} µs/record (all its processes)"
        )
    lines.append(
        f"  speed-up 1 to 2 workers: {speed_up(runs):.2f} (on 2 cores, the broker and the bench "
        f"share the cores with the workers)"
    )
    return lines


def speed_up(runs: Mapping[int, Measurement]) -> float:
    return runs[2].rate / runs[1].rate


def latency_lines(results: Results) -> list[str]:
    phase = results.latency
    if phase.latencies:
        measured = (
            f"p50 {nearest_rank(phase.latencies, 0.5):.3f} s, "
            f"p99 {nearest_rank(phase.latencies, 0.99):.3f} s "
            f"({len(phase.latencies)} of {phase.sent} messages seen)"
        )
    else:
        measured = "no message was seen in a snapshot"
    return [
        f"latency, produce to published snapshot, at {results.latency_rate:g} msgs/s with "
        f"snapshots every {results.snapshot_interval:g} s: {measured}",
        f"  worker CPU in that phase: {phase.cpu_us_per_record:.1f} µs/record "
        f"(snapshots and timers included)",
        f"  worker peak RSS: {phase.rss_bytes / 2**20:.0f} MiB",
    ]


def summary(results: Results) -> Summary:
    latencies = results.latency.latencies
    missing = {
        ratio: f"({ratio[-1]}) {results.missing[ratio[-1]]}"
        for ratio in ("c/a", "c/q")
        if ratio[-1] in results.missing
    }
    return Summary(
        c_a=median_ratio(results.rounds, "c/a"),
        c_q=median_ratio(results.rounds, "c/q"),
        p99_ms=nearest_rank(latencies, 0.99) * 1000 if latencies else None,
        latency_rate=results.latency_rate,
        cpu_us=median_cpu(results.rounds, "c"),
        rss_mib=results.latency.rss_bytes / 2**20,
        speed_up=speed_up(results.scale_out),
        missing=missing,
    )


def report_lines(results: Results, header: str) -> list[str]:
    return [
        header,
        *throughput_lines(results),
        *scale_out_lines(results.scale_out, results.messages),
        *latency_lines(results),
        "summary, the figures of the performance targets:",
        *summary_lines(summary(results)),
    ]
