"""Pipeline (q) of the bench, the Quix Streams peer, as a script run by the python of the
bench's Quix venv (quix_venv.py); the hub never imports it.

    python quix_pipeline.py --package-dir HUB --group G --count N --state-dir D TOPIC...

It reads the unit-status topics with the consumer group G (started where the backlog
begins), validates each record with the hub's pydantic models and keeps the latest state
per unit in Quix's own state (RocksDB and its changelog topics), as (a) does in a dict. The
connection comes as JSON on stdin (Quix's ConnectionConfig fields: a password never shows
in the process list). Once N records are processed it stops and prints one line of JSON on
stdout: count, and the wall and this process's CPU seconds (all its threads, librdkafka's
too) from the first record to the end of its run, whose last checkpoint writes the state,
and when that began (time.perf_counter(), the system's monotonic clock).
"""

import argparse
import importlib.util
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any


def load_hub(package_dir: Path) -> None:
    """Imports the hub's package from its source folder under its own name: the models are
    the ones the hub's environment runs, whatever version of the hub is installed where."""
    spec = importlib.util.spec_from_file_location(
        "pelastus_hub", package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pelastus_hub"] = module
    spec.loader.exec_module(module)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package-dir", type=Path, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    connection = json.load(sys.stdin)

    load_hub(args.package_dir)
    from pydantic import ValidationError
    from quixstreams import Application, State
    from quixstreams.kafka.configuration import ConnectionConfig

    from pelastus_hub.contract.envelope import UnitStatusEvent

    app = Application(
        broker_address=ConnectionConfig(**connection),
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    clock: dict[str, Any] = {"count": 0}

    def latest_per_unit(raw: bytes | None, state: State) -> None:
        if "first" not in clock:
            clock["first"], clock["cpu_first"] = time.perf_counter(), time.process_time()
        try:
            event = UnitStatusEvent.model_validate_json(raw) if raw is not None else None
        except ValidationError:
            event = None
        if event is not None:
            data = event.data
            current = state.get("latest")
            if current is None or data.observed_at > datetime.fromisoformat(current["observed_at"]):
                state.set("latest", data.model_dump(mode="json"))
        clock["count"] += 1
        if clock["count"] == args.count:
            app.stop()

    for name in args.topics:
        topic = app.topic(name, key_deserializer="bytes", value_deserializer="bytes")
        app.dataframe(topic).update(latest_per_unit, stateful=True)
    app.run()
    # Quix writes its state to RocksDB and its changelog, and commits, at its checkpoints:
    # the span ends after the last one, as the run ends, so that all the work is in it.
    last, cpu_last = time.perf_counter(), time.process_time()
    if clock["count"] < args.count:
        print(f"stopped after {clock['count']} of {args.count} records", file=sys.stderr)
        return 1
    report = {
        "count": clock["count"],
        "seconds": last - clock["first"],
        "cpu_seconds": cpu_last - clock["cpu_first"],
        "began": clock["first"],
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
