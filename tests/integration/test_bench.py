"""`pelastus-hub bench` runs end to end on its own broker: a small run, checked for its
report and its message counts, never for its speed (that is the benchmark's own output)."""

import re
import subprocess
import sys

import pytest

from tests.integration.hub_process import REPO

pytestmark = pytest.mark.integration


# The Quix Streams peer runs on the secured broker, where its connection has the most to get
# right; its venv is made once per machine (about 20 s) and cached.
@pytest.mark.parametrize("secure", [False, True], ids=["plaintext", "secured"])
def test_a_small_bench_runs_every_phase_to_its_report(secure: bool) -> None:
    small = ["--messages=3000", "--rounds=1", "--skip-faust"]
    small += ["--latency-rate=500", "--latency-seconds=2"]
    options = ["--secure"] if secure else ["--skip-quix"]
    bench = subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", "bench", *small, *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = bench.stdout + bench.stderr
    assert bench.returncode == 0, report[-3000:]
    out = bench.stdout
    ran = ["(a) aiokafka getmany", "(c) hub worker"] + ["(q) Quix Streams"] * secure
    for pipeline in ran:
        # Rate, CPU per record, and the broker's CPU per record: the bench runs the broker.
        assert re.search(rf"{re.escape(pipeline)}.* +[\d,]+ +[\d.]+ +[\d.]+\n", out), out
    assert re.search(r"\(b\) plain Faust agent.* skipped \(--skip-faust\)", out), out
    assert re.search(r"c/a = \d", out) and "c/b = -" in out
    assert bool(re.search(r"c/q = \d", out)) == secure, out
    assert re.search(r"1 worker +[\d,]+ msgs/s +CPU [\d.]+ µs/record", out), out
    assert re.search(r"2 workers +[\d,]+ msgs/s +CPU [\d.]+ µs/record", out), out
    assert re.search(r"speed-up 1 to 2 workers: \d", out), out
    assert "(1000 of 1000 messages seen)" in out, out
    assert re.search(r"worker CPU in that phase: [\d.]+ µs/record", out), out
    summary = out.split("summary, the figures of the performance targets:\n")[1]
    assert len(summary.strip().splitlines()) == 6, summary
    assert ("(secured: TLS, SCRAM, ACLs)" in report) == secure
