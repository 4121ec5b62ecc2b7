"""A broker's data folder: server.properties on two free ports, its storage formatted for KRaft."""

import base64
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from subprocess import PIPE, STDOUT

from pelastus_hub.tools.localkafka.jars import LocalKafkaError
from pelastus_hub.tools.ports import free_ports


def format_data_dir(java: str, jvm_options: list[str], run_dir: Path | None) -> Path:
    """A new data folder in run_dir (else the system's temporary folder), ready to start on."""
    port, cport = free_ports(2)
    if run_dir:
        run_dir.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="kafka-", dir=run_dir))
    bootstrap = f"127.0.0.1:{port}"
    properties = data / "server.properties"
    properties.write_text(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://{bootstrap},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://{bootstrap}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data / "logs"}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=3
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
# Above the hub's 1 MiB limit: oversized records must reach the hub to be dead-lettered.
message.max.bytes=4194304
""")
    # The id form of `kafka-storage.sh random-uuid`, without another JVM start;
    # "--cluster-id=" keeps an id starting with "-" from being read as an option.
    cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    storage_format = [java, *jvm_options, "kafka.tools.StorageTool", "format", "-c"]
    command = [*storage_format, str(properties), f"--cluster-id={cluster_id}"]
    formatted = subprocess.run(command, stdout=PIPE, stderr=STDOUT, text=True)
    if formatted.returncode != 0:
        # Removed, so that no later start() takes it for a broker's folder to restart.
        shutil.rmtree(data, ignore_errors=True)
        raise LocalKafkaError(f"formatting Kafka storage failed:\n{formatted.stdout}")
    return data


def bootstrap_of(properties: Path) -> str:
    """The address the broker of a data folder listens on, from its server.properties."""
    text = properties.read_text() if properties.is_file() else ""
    if match := re.search(r"^advertised\.listeners=PLAINTEXT://(\S+)$", text, re.MULTILINE):
        return match[1]
    raise LocalKafkaError(
        f"{properties.parent} is not a broker's data folder (no listener in {properties})"
    )
