"""`pelastus-hub run --secure`: the demo on a secured broker with one option, the hub and
each department logged in as their own users."""

import os
import re
import subprocess
import sys

import pytest

from pelastus_hub.tools.ports import free_ports
from tests.integration.hub_process import REPO

pytestmark = pytest.mark.integration


def test_the_secured_demo_runs_with_one_option(tmp_path) -> None:
    # Its logs go to tmp_path instead of the repository's .run/.
    demo = (
        "import sys; from pathlib import Path; import pelastus_hub.tools.demo; "
        "pelastus_hub.tools.demo.LOG_DIR = Path(sys.argv[1]); from pelastus_hub.cli import main; "
        "sys.exit(main(['run', '--secure', '--rate=300', '--duration=15', '--status-every=5']))"
    )
    env = {**os.environ, "PELASTUS_HUB_WEB_PORT": str(free_ports(1)[0])}
    done = subprocess.run(
        [sys.executable, "-c", demo, str(tmp_path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stderr
    assert done.returncode == 0, output
    assert "(secured: TLS, SCRAM, ACLs)" in output
    assert re.search(r"provisioned 21 departments' topics, users and ACLs in [\d.]+ s", output)
    assert "each department sends as its own user" in output
    last = [line for line in output.splitlines() if "] snapshot " in line][-1]
    assert " units from 21 departments" in last, output
    assert re.search(r"records: accepted [1-9]", last), last
    summary = re.search(r"simulator (?:done|stopped): .*", output)
    assert summary, output
    assert "could not be sent" not in summary[0], summary[0]
    worker_log = (tmp_path / "demo-worker.log").read_text()
    assert "AuthorizationFailed" not in worker_log and "SaslAuthentication" not in worker_log
