"""The bench's figures, pure: a pipeline's measurement, the ratios of pipelines measured in
the same round and their medians over the rounds, and the targets the summary holds them to."""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The pipelines, in the order the report lists them and the first round runs them.
PIPELINES = ("a", "b", "c", "q")
RATIOS = ("c/a", "c/b", "c/q")


@dataclass(frozen=True)
class Measurement:
    """`count` records, from the first received to the last processed: `seconds` of wall
    time and `cpu_seconds` of the pipeline's process (all its threads) in that time."""

    count: int
    seconds: float
    cpu_seconds: float
    # time.perf_counter() at the first record: the system's monotonic clock, which every
    # process here shares.
    began: float = 0.0
    # The broker's CPU time in the same span, when the bench runs the broker.
    broker_cpu_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_us_per_record(self) -> float:
        return self.cpu_seconds * 1e6 / self.count

    @property
    def broker_us_per_record(self) -> float | None:
        if self.broker_cpu_seconds is None:
            return None
        return self.broker_cpu_seconds * 1e6 / self.count


# One round: each pipeline that ran in it, by name; one that did not run is absent.
Round = Mapping[str, Measurement]


def interleaved(pipelines: Sequence[str], round_index: int) -> list[str]:
    """The order of a round: the pipelines rotated by the round's index, so that each runs
    early and late, and none always right after producing or after another's clean-up."""
    shift = round_index % len(pipelines) if pipelines else 0
    return [*pipelines[shift:], *pipelines[:shift]]


def ratio(measured: Round, name: str) -> float | None:
    """The ratio "x/y" of the rates of x and y in one round; None if either did not run."""
    top, bottom = name.split("/")
    if top not in measured or bottom not in measured:
        return None
    return measured[top].rate / measured[bottom].rate


def ratios(rounds: Sequence[Round], name: str) -> list[float]:
    """The ratio in each round where both pipelines ran."""
    return [value for measured in rounds if (value := ratio(measured, name)) is not None]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def median_ratio(rounds: Sequence[Round], name: str) -> float | None:
    """The median over the rounds of each round's ratio (never a ratio of median rates: a
    round's pipelines share that round's machine)."""
    return median(ratios(rounds, name))


def median_cpu(rounds: Sequence[Round], pipeline: str) -> float | None:
    """The median over the rounds of the pipeline's CPU microseconds per record."""
    return median([r[pipeline].cpu_us_per_record for r in rounds if pipeline in r])


def median_broker_cpu(rounds: Sequence[Round], pipeline: str) -> float | None:
    """The median over the rounds of the broker's CPU microseconds per record of the
    pipeline, in the rounds where it was measured."""
    return median(
        [
            value
            for r in rounds
            if pipeline in r and (value := r[pipeline].broker_us_per_record) is not None
        ]
    )


@dataclass(frozen=True)
class Target:
    """What the performance work aims for: a figure at least or at most `limit`."""

    label: str
    limit: float
    at_least: bool
    unit: str = ""

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit

    def describe(self) -> str:
        sign = ">=" if self.at_least else "<="
        return f"{sign} {self.limit:g}{self.unit}"


TARGET_LATENCY_RATE = 2000.0
TARGETS = {
    "c/a": Target("c/a, median of the rounds", 0.7, at_least=True),
    "c/q": Target("c/q, median of the rounds", 2.0, at_least=True),
    "p99": Target(
        f"latency p99 at {TARGET_LATENCY_RATE:,.0f} msgs/s", 400.0, at_least=False, unit=" ms"
    ),
    "cpu": Target("hub worker CPU per record, (c) median", 25.0, at_least=False, unit=" µs"),
    "rss": Target("worker peak RSS", 225.0, at_least=False, unit=" MiB"),
}


@dataclass(frozen=True)
class Summary:
    """The figures the targets are stated in; None where a figure was not measured, with
    the reason in `missing`."""

    c_a: float | None
    c_q: float | None
    p99_ms: float | None
    latency_rate: float
    cpu_us: float | None
    rss_mib: float
    speed_up: float | None
    missing: Mapping[str, str]


def verdict(target: Target, value: float | None, comparable: bool = True) -> str:
    if value is None:
        return "not measured"
    if not comparable:
        return "not comparable"
    return "met" if target.met(value) else "not met"


def summary_lines(summary: Summary) -> list[str]:
    """One line per figure: the figure, its target and whether it is met."""
    at_target_rate = summary.latency_rate == TARGET_LATENCY_RATE
    rows: list[tuple[str, str, str, str]] = []

    def row(key: str, value: float | None, shown: str, comparable: bool = True) -> None:
        target = TARGETS[key]
        why = summary.missing.get(key)
        figure = shown if value is not None else f"missing ({why})" if why else "missing"
        rows.append((target.label, figure, target.describe(), verdict(target, value, comparable)))

    row("c/a", summary.c_a, f"{summary.c_a:.2f}" if summary.c_a is not None else "")
    row("c/q", summary.c_q, f"{summary.c_q:.2f}" if summary.c_q is not None else "")
    latency = "" if summary.p99_ms is None else f"{summary.p99_ms:.0f} ms"
    if not at_target_rate and summary.p99_ms is not None:
        latency += f" at {summary.latency_rate:,.0f} msgs/s"
    row("p99", summary.p99_ms, latency, comparable=at_target_rate)
    row("cpu", summary.cpu_us, f"{summary.cpu_us:.1f} µs" if summary.cpu_us is not None else "")
    row("rss", summary.rss_mib, f"{summary.rss_mib:.0f} MiB")
    width = max(len(label) for label, *_ in rows)
    lines = [
        f"  {label:<{width}}  {figure:<14} target {target:<10} {met}"
        for label, figure, target, met in rows
    ]
    speed_up = "missing" if summary.speed_up is None else f"{summary.speed_up:.2f}"
    lines.append(f"  {'speed-up, 1 to 2 worker processes':<{width}}  {speed_up:<14} (no target)")
    return lines
