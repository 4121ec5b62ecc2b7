"""Development tools: the local broker, the demo, the simulator with its oracle, the bench and
the schema tooling. They run from a checkout of the repository; the runtime never imports them."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The local broker's state file and the demo's logs.
RUN_DIR = REPO_ROOT / ".run"
