"""Fixtures of the tests that assert on the hub's own topics: a broker of their own.

`broker` is a fresh broker per test module (the session broker of tests/conftest.py
may hold other tests' snapshots and states); `worker` is one worker process on it.
"""

import sys

import pytest

from hub.localkafka import LocalKafka
from tests.integration.hub_process import WorkerProcess


@pytest.fixture(scope="module")
def broker():
    with LocalKafka(progress=lambda line: print(line, file=sys.stderr)) as kafka:
        yield kafka.bootstrap_servers


@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    process = WorkerProcess(broker, tmp_path_factory.mktemp("worker") / "worker.log")
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()
