"""`pelastus-hub bench` runs end to end on its own broker: a small run, checked for its
report and its message count, never for its speed (that is the benchmark's own output)."""

import re
import subprocess
import sys

import pytest

from tests.integration.hub_process import REPO

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("secure", [False, True], ids=["plaintext", "secured"])
def test_a_small_bench_runs_every_pipeline_to_its_report(secure: bool) -> None:
    small = ["--messages=3000", "--latency-rate=500", "--latency-seconds=2"]
    bench = subprocess.run(
        [sys.executable, "-m", "pelastus_hub.cli", "bench", *small, *["--secure"] * secure],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = bench.stdout + bench.stderr
    assert bench.returncode == 0, report[-3000:]
    for pipeline in ("(a) aiokafka getmany", "(b) plain Faust agent", "(c) hub worker"):
        assert re.search(rf"{re.escape(pipeline)}.* [\d,]+ msgs/s", report), report[-3000:]
    assert re.search(r"c/a = \d", report) and re.search(r"c/b = \d", report)
    assert "(1000 of 1000 messages seen)" in report, report[-3000:]
    assert ("(secured: TLS, SCRAM, ACLs)" in report) == secure
