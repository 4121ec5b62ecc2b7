"""Fixtures of the tests that assert on the hub's own topics: a broker of their own.

`broker` is a fresh broker per test module (`module_kafka` the broker itself, and `kafka`
one per test, for those that stop and restart it) (the session broker of tests/conftest.py
may hold other tests' snapshots and states); `worker` is one worker process on it.
"""

import sys

import pytest

from pelastus_hub.tools.localkafka import LocalKafka
from tests.integration.hub_process import WorkerProcess


def _progress(line: str) -> None:
    print(line, file=sys.stderr)


@pytest.fixture(scope="module")
def module_kafka():
    """The module's broker, for tests that stop and restart it."""
    with LocalKafka(progress=_progress) as kafka:
        yield kafka


@pytest.fixture(scope="module")
def broker(module_kafka):
    return module_kafka.bootstrap_servers


@pytest.fixture
def kafka():
    """A broker of the test's own, to stop and restart."""
    with LocalKafka(progress=_progress) as kafka:
        yield kafka


@pytest.fixture(scope="module")
def worker(broker, tmp_path_factory):
    process = WorkerProcess(broker, tmp_path_factory.mktemp("worker") / "worker.log")
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()
