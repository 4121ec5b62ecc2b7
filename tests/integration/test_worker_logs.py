"""A worker's logs as a log pipeline reads them: with PELASTUS_HUB_LOG_FORMAT=json every
line is one JSON object, and a normal start logs no error."""

import json

import pytest

from tests.integration.hub_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_a_normal_start_logs_json_lines_and_no_error(kafka, tmp_path) -> None:
    """On a broker of its own, where the worker creates every topic and its groups are new:
    the start that logs the most."""
    worker = WorkerProcess(
        kafka.bootstrap_servers, tmp_path / "worker.log", log_format="json", log_level="info"
    )
    worker.start()
    # What it logged until ready: the start. It is killed then, as stopping is not what
    # this test is about.
    text = worker.log_path.read_text()
    worker.kill()
    started = text[: text.rfind("\n") + 1].splitlines()  # whole lines only
    records = [json.loads(line) for line in started]  # fails on any line that is not JSON
    assert any("created" in r["message"] and "topics" in r["message"] for r in records)
    errors = [r for r in records if r["level"] in ("error", "critical")]
    assert not errors, errors
