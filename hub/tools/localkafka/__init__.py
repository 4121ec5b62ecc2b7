"""A single-node Kafka broker (KRaft) from Maven Central jars and the local JDK: no Docker.

jars fetches the broker's jars, storage makes its data folder, broker runs and stops its
process (LocalKafka), and detached keeps one running between commands.
"""

from pelastus_hub.tools.localkafka.broker import LocalKafka
from pelastus_hub.tools.localkafka.detached import (
    run_cli,
    start_detached,
    status_detached,
    stop_detached,
)
from pelastus_hub.tools.localkafka.jars import (
    COMPLETE_MARKER,
    LocalKafkaError,
    ensure_jars,
    kafka_version,
)

__all__ = [
    "COMPLETE_MARKER",
    "LocalKafka",
    "LocalKafkaError",
    "ensure_jars",
    "kafka_version",
    "run_cli",
    "start_detached",
    "status_detached",
    "stop_detached",
]
