"""A broker's data folder: server.properties on two free ports, its storage formatted for KRaft.

A secured folder (secure=True) also holds the broker's certificates (tls/) and the admin's
password (admin.password), and its broker takes clients only over TLS with SCRAM-SHA-512,
allowing nothing an ACL does not allow, except to the admin and to the broker itself
(by its certificate, on the controller listener).
"""

import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from subprocess import PIPE, STDOUT

from pelastus_hub.tools.localkafka.jars import LocalKafkaError
from pelastus_hub.tools.ports import free_ports
from pelastus_hub.tools.private_file import write_private

ADMIN = "admin"
ADMIN_PASSWORD_FILE = "admin.password"
CA_FILE = "tls/ca.pem"
SCRAM = "SCRAM-SHA-512"


def _listeners(data: Path, bootstrap: str, cport: int, admin_password: str | None) -> str:
    if admin_password is None:
        return f"""\
listeners=PLAINTEXT://{bootstrap},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=PLAINTEXT://{bootstrap}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
"""
    # Imported only here: the cryptography package is needed only for a secured broker.
    try:
        from pelastus_hub.tools.localkafka.tls import BROKER_PRINCIPAL, make_certificates
    except ImportError as error:
        raise LocalKafkaError(
            f"a secured broker needs {error.name}: pip install 'pelastus-hub[operator]'"
        ) from None

    ca_file, broker_file = make_certificates(data / "tls")
    # Clients: TLS and SCRAM. The controller listener takes only the broker's own
    # certificate; the broker reaches its own client listener as the admin.
    return f"""\
listeners=SASL_SSL://{bootstrap},CONTROLLER://127.0.0.1:{cport}
advertised.listeners=SASL_SSL://{bootstrap}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms={SCRAM}
sasl.mechanism.inter.broker.protocol={SCRAM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required \
username="{ADMIN}" password="{admin_password}";
ssl.keystore.type=PEM
ssl.keystore.location={broker_file}
ssl.truststore.type=PEM
ssl.truststore.location={ca_file}
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{ADMIN};{BROKER_PRINCIPAL}
"""


def format_data_dir(
    java: str, jvm_options: list[str], run_dir: Path | None, secure: bool = False
) -> Path:
    """A new data folder in run_dir (else the system's temporary folder), ready to start on."""
    port, cport = free_ports(2)
    if run_dir:
        run_dir.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="kafka-", dir=run_dir))
    try:
        _format(java, jvm_options, data, port, cport, secure)
    except BaseException:
        # Removed, so that no later start() takes it for a broker's folder to restart.
        shutil.rmtree(data, ignore_errors=True)
        raise
    return data


def _format(
    java: str, jvm_options: list[str], data: Path, port: int, cport: int, secure: bool
) -> None:
    """Fill the empty folder data: server.properties, certificates and the admin's
    password if secure, and the storage formatted."""
    bootstrap = f"127.0.0.1:{port}"
    admin_password = secrets.token_urlsafe(24) if secure else None
    if admin_password:
        write_private(data / ADMIN_PASSWORD_FILE, admin_password.encode())
    properties = data / "server.properties"
    # Only its owner reads it: a secured broker's holds the admin's password.
    write_private(
        properties,
        f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
{_listeners(data, bootstrap, cport, admin_password)}\
controller.listener.names=CONTROLLER
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
""".encode(),
    )
    # The id form of `kafka-storage.sh random-uuid`, without another JVM start;
    # "--cluster-id=" keeps an id starting with "-" from being read as an option.
    cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    arguments = [*jvm_options, "kafka.tools.StorageTool", "format", "-c", str(properties)]
    arguments.append(f"--cluster-id={cluster_id}")
    if admin_password:
        # The admin's credential is written into the cluster's first metadata.
        arguments += ["--add-scram", f"{SCRAM}=[name={ADMIN},password={admin_password}]"]
    # From an argument file (the launcher's @file), so no password shows in a process list.
    argument_file = data / "format.args"
    write_private(argument_file, "\n".join(f'"{a}"' for a in arguments).encode())
    try:
        formatted = subprocess.run(
            [java, f"@{argument_file}"], stdout=PIPE, stderr=STDOUT, text=True
        )
    finally:
        argument_file.unlink()
    if formatted.returncode != 0:
        output = (
            formatted.stdout.replace(admin_password, "***") if admin_password else formatted.stdout
        )
        raise LocalKafkaError(f"formatting Kafka storage failed:\n{output}")


def bootstrap_of(properties: Path) -> str:
    """The address the broker of a data folder listens on, from its server.properties."""
    text = properties.read_text() if properties.is_file() else ""
    if match := re.search(r"^advertised\.listeners=\w+://(\S+)$", text, re.MULTILINE):
        return match[1]
    raise LocalKafkaError(
        f"{properties.parent} is not a broker's data folder (no listener in {properties})"
    )


def is_secured(data: Path) -> bool:
    return (data / ADMIN_PASSWORD_FILE).is_file()
