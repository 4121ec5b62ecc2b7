"""The bench's figures and its summary: medians of per-round ratios, CPU per record, the
order of the rounds, and each figure against its target."""

import pytest

from pelastus_hub.tools.bench.broker_cpu import cpu_between
from pelastus_hub.tools.bench.figures import (
    Measurement,
    Summary,
    interleaved,
    median_broker_cpu,
    median_cpu,
    median_ratio,
    ratio,
    ratios,
    summary_lines,
)


def m(rate: float, cpu_us: float = 10.0, count: int = 1000) -> Measurement:
    """A measurement of `count` records at `rate` msgs/s using `cpu_us` CPU µs each."""
    return Measurement(count, count / rate, cpu_us * count / 1e6)


def test_a_measurement_gives_its_rate_and_cpu_per_record() -> None:
    measured = Measurement(count=50_000, seconds=2.0, cpu_seconds=1.5)
    assert measured.rate == 25_000
    assert measured.cpu_us_per_record == pytest.approx(30.0)


def test_a_ratio_compares_two_pipelines_of_one_round() -> None:
    assert ratio({"a": m(40_000), "c": m(20_000)}, "c/a") == pytest.approx(0.5)
    assert ratio({"c": m(20_000)}, "c/a") is None


def test_the_median_is_of_each_rounds_ratio_not_of_the_rates() -> None:
    rounds = [
        {"a": m(40_000), "c": m(20_000)},  # 0.5
        {"a": m(10_000), "c": m(9_000)},  # 0.9
        {"a": m(30_000), "c": m(18_000)},  # 0.6
    ]
    assert ratios(rounds, "c/a") == pytest.approx([0.5, 0.9, 0.6])
    assert median_ratio(rounds, "c/a") == pytest.approx(0.6)
    # The ratio of median rates would be 18,000 / 30,000: not what a round measured.


def test_a_pipeline_missing_from_a_round_leaves_that_rounds_ratio_out() -> None:
    rounds = [{"q": m(10_000), "c": m(20_000)}, {"c": m(22_000)}]
    assert ratios(rounds, "c/q") == pytest.approx([2.0])
    assert median_ratio([{"c": m(1.0)}], "c/q") is None


def test_cpu_per_record_is_the_median_over_the_rounds_it_ran_in() -> None:
    rounds = [{"c": m(1, cpu_us=40)}, {"c": m(1, cpu_us=30)}, {"a": m(1)}, {"c": m(1, cpu_us=35)}]
    assert median_cpu(rounds, "c") == pytest.approx(35)
    assert median_cpu(rounds, "b") is None


def test_the_rounds_turn_so_that_every_pipeline_runs_in_every_place() -> None:
    orders = [interleaved(["a", "b", "c", "q"], i) for i in range(4)]
    assert orders[0] == ["a", "b", "c", "q"]
    assert orders[1] == ["b", "c", "q", "a"]
    for place in range(4):
        assert sorted(order[place] for order in orders) == ["a", "b", "c", "q"]
    assert interleaved(["a", "c"], 3) == ["c", "a"]


def summary(**changes: object) -> Summary:
    figures: dict[str, object] = {
        "c_a": 0.75,
        "c_q": 1.5,
        "p99_ms": 380.0,
        "latency_rate": 2000.0,
        "cpu_us": 30.0,
        "rss_mib": 224.4,
        "speed_up": 1.6,
        "missing": {},
    }
    return Summary(**{**figures, **changes})  # type: ignore[arg-type]


def line(lines: list[str], start: str) -> str:
    (found,) = [text for text in lines if text.strip().startswith(start)]
    return found


def test_the_summary_gives_each_figure_its_target_and_whether_it_is_met() -> None:
    lines = summary_lines(summary())
    assert line(lines, "c/a").split()[-1] == "met" and "0.75" in line(lines, "c/a")
    assert ">= 0.7" in line(lines, "c/a")
    assert line(lines, "c/q").endswith("not met") and ">= 2" in line(lines, "c/q")
    assert line(lines, "latency p99").endswith(" met") and "380 ms" in line(lines, "latency")
    assert line(lines, "hub worker CPU").endswith("not met") and "<= 25 µs" in line(
        lines, "hub worker CPU"
    )
    assert line(lines, "worker peak RSS").endswith(" met") and "224 MiB" in line(
        lines, "worker peak RSS"
    )
    assert "1.60" in line(lines, "speed-up") and "(no target)" in line(lines, "speed-up")


def test_a_figure_at_its_limit_meets_it() -> None:
    lines = summary_lines(summary(c_a=0.7, c_q=2.0, p99_ms=400.0, cpu_us=25.0, rss_mib=225.0))
    assert not [text for text in lines if text.endswith("not met")]


def test_latency_at_another_rate_than_the_targets_is_not_judged() -> None:
    latency = line(summary_lines(summary(latency_rate=500.0, p99_ms=100.0)), "latency p99")
    assert "100 ms at 500 msgs/s" in latency
    assert latency.endswith("not comparable")


def test_a_missing_peer_is_marked_missing_with_the_reason() -> None:
    lines = summary_lines(summary(c_q=None, missing={"c/q": "(q) skipped (--skip-quix)"}))
    assert "missing ((q) skipped (--skip-quix))" in line(lines, "c/q")
    assert line(lines, "c/q").endswith("not measured")


def test_the_brokers_cpu_in_a_span_is_read_between_the_samples_around_it() -> None:
    samples = [(10.0, 100.0), (10.5, 100.2), (11.0, 100.6)]
    # 10.25: halfway to 100.2; 10.75: halfway from 100.2 to 100.6.
    assert cpu_between(samples, 10.25, 10.75) == pytest.approx(0.3)
    assert cpu_between(samples, 10.0, 11.0) == pytest.approx(0.6)
    assert cpu_between(samples, 9.9, 10.5) is None  # before the first sample
    assert cpu_between(samples, 10.5, 11.1) is None  # after the last


def test_the_brokers_cpu_per_record_is_the_median_of_the_rounds_that_measured_it() -> None:
    def served(broker_us: float | None) -> Measurement:
        cpu = None if broker_us is None else broker_us * 1000 / 1e6
        return Measurement(1000, 1.0, 0.01, broker_cpu_seconds=cpu)

    rounds = [{"c": served(30)}, {"c": served(None)}, {"c": served(20)}, {"c": served(22)}]
    assert rounds[0]["c"].broker_us_per_record == pytest.approx(30)
    assert median_broker_cpu(rounds, "c") == pytest.approx(22)
    assert median_broker_cpu([{"c": served(None)}], "c") is None
