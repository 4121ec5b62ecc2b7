import os
import sys

import pytest

from pelastus_hub.tools.localkafka import LocalKafka


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """Bootstrap servers of the broker the tests use.

    Set PELASTUS_HUB_TEST_BOOTSTRAP to reuse a running broker (e.g. one from
    `pelastus-hub kafka start`) instead of starting one per test session.
    """
    if bootstrap := os.environ.get("PELASTUS_HUB_TEST_BOOTSTRAP"):
        yield bootstrap
        return
    with LocalKafka(progress=lambda line: print(line, file=sys.stderr)) as kafka:
        yield kafka.bootstrap_servers
