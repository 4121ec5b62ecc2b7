"""`pelastus-hub kubernetes strimzi`: the hub's Kafka cluster as Strimzi resources, from the
registry.

The Kafka cluster (KRaft, node pools, a SASL_SSL listener with SCRAM-SHA-512 logins, simple
authorization), a KafkaTopic per topic the hub needs and a KafkaUser per principal, with the
ACLs of the provisioning plan (pelastus_hub.tools.provision.plan): the same topics, users and
ACLs that `pelastus-hub provision` makes on a broker it administers, so that a department
added to schemas/departments.json is one more line there and a regeneration here.
"""

import difflib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import RECORD_OVERHEAD_BYTES
from pelastus_hub.tools.provision import wanted_topics
from pelastus_hub.tools.provision.plan import Acl, Topic, wanted

API_VERSION = "kafka.strimzi.io/v1"
# Where the generated files are committed, from the repository's root.
OUTPUT = Path("deploy/kubernetes/strimzi")
COMMAND = "pelastus-hub kubernetes strimzi"
PART_OF = {"app.kubernetes.io/part-of": "pelastus-hub"}
# Kubernetes object names: DNS-1123 subdomains. Topic and user names become object names.
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
STRIMZI_OPERATIONS = {"READ": "Read", "WRITE": "Write", "DESCRIBE": "Describe"}
STRIMZI_RESOURCES = {"TOPIC": "topic", "GROUP": "group", "TRANSACTIONAL_ID": "transactionalId"}


@dataclass(frozen=True)
class Cluster:
    """The production cluster's shape. The hub's ConfigMap (deploy/kubernetes/hub) gives the
    workers the same group id, partitions and replicas; a test holds them together."""

    name: str = "pelastus"
    # The newest Strimzi on Maven Central (1.2.0) is built on Kafka 4.3.1; the hub is
    # tested against 4.4.0 brokers, whose protocol 4.3 clients and brokers share.
    kafka_version: str = "4.3.1"
    listener_port: int = 9093
    controllers: int = 3
    brokers: int = 3
    controller_storage: str = "20Gi"
    broker_storage: str = "100Gi"
    # Three replicas, two in sync: one broker may be down (a rolling update) and writes
    # with acks=all still succeed without a record being on one disk only.
    replicas: int = 3
    min_insync_replicas: int = 2
    input_partitions: int = 3
    group_id: str = "pelastus-hub"
    max_message_bytes: int = 1024 * 1024

    @property
    def bootstrap(self) -> str:
        return f"{self.name}-kafka-bootstrap:{self.listener_port}"

    @property
    def labels(self) -> dict[str, str]:
        return {"strimzi.io/cluster": self.name, **PART_OF}


def kafka_resources(cluster: Cluster) -> list[dict[str, Any]]:
    """The Kafka cluster: separate controller and broker node pools (a controller's quorum
    is then not slowed or restarted by broker load), one internal SASL_SSL listener."""
    pools = [
        _node_pool(cluster, "controllers", "controller", cluster.controllers, "2Gi", "500m"),
        _node_pool(cluster, "brokers", "broker", cluster.brokers, "4Gi", "1"),
    ]
    kafka = {
        "apiVersion": API_VERSION,
        "kind": "Kafka",
        "metadata": {"name": cluster.name, "labels": dict(PART_OF)},
        "spec": {
            "kafka": {
                "version": cluster.kafka_version,
                "listeners": [
                    {
                        "name": "tls",
                        "port": cluster.listener_port,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                # Kafka's StandardAuthorizer: what no ACL allows is refused.
                "authorization": {"type": "simple"},
                "config": {
                    "auto.create.topics.enable": False,
                    "default.replication.factor": cluster.replicas,
                    "min.insync.replicas": cluster.min_insync_replicas,
                    "offsets.topic.replication.factor": cluster.replicas,
                    "transaction.state.log.replication.factor": cluster.replicas,
                    "transaction.state.log.min.isr": cluster.min_insync_replicas,
                    # SCRAM logins do not expire: a removed user's open connections end
                    # within the hour (README, "Security", "Limits").
                    "connections.max.reauth.ms": 3_600_000,
                },
            },
            # The Topic and User Operators turn the KafkaTopics and KafkaUsers into topics,
            # SCRAM users (a Secret with each one's password) and ACLs.
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [*pools, kafka]


def _node_pool(
    cluster: Cluster, name: str, role: str, replicas: int, memory: str, cpu: str
) -> dict[str, Any]:
    size = cluster.controller_storage if role == "controller" else cluster.broker_storage
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaNodePool",
        "metadata": {"name": name, "labels": cluster.labels},
        "spec": {
            "replicas": replicas,
            "roles": [role],
            "storage": {"type": "persistent-claim", "size": size, "deleteClaim": False},
            "resources": {
                "requests": {"memory": memory, "cpu": cpu},
                "limits": {"memory": memory},
            },
        },
    }


def cluster_topics(codes: Iterable[str], cluster: Cluster) -> list[Topic]:
    """The topics as `pelastus-hub provision` plans them, with the cluster's partitions,
    replicas and record size."""
    max_record_bytes = cluster.max_message_bytes + RECORD_OVERHEAD_BYTES
    return wanted_topics(
        sorted(codes), cluster.input_partitions, cluster.replicas, max_record_bytes
    )


def topic_resource(topic: Topic, cluster: Cluster) -> dict[str, Any]:
    _check_object_name(topic.name, "topic")
    spec: dict[str, Any] = {
        "topicName": topic.name,
        "partitions": topic.partitions,
        "replicas": topic.replicas,
    }
    if topic.configs:
        spec["config"] = dict(topic.configs)
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": {"name": topic.name, "labels": cluster.labels},
        "spec": spec,
    }


def strimzi_acl(acl: Acl) -> dict[str, Any]:
    """A planned ACL in a KafkaUser's terms: the same binding, allowed from any host."""
    return {
        "type": "allow",
        "resource": {
            "type": STRIMZI_RESOURCES[acl.resource],
            "name": acl.name,
            "patternType": "prefix" if acl.prefixed else "literal",
        },
        "operations": [STRIMZI_OPERATIONS[acl.operation]],
        "host": "*",
    }


def user_resources(codes: Iterable[str], cluster: Cluster) -> list[dict[str, Any]]:
    """A KafkaUser for each department, the hub and the reader, each with exactly its ACLs
    of the provisioning plan. The User Operator keeps each one's password in a Secret of
    the user's name (key `password`). A ValueError where the plan refuses the registry."""
    goal = wanted(codes, (), cluster.group_id, admin_user=None)
    users = []
    for user in goal.users:
        _check_object_name(user, "user")
        users.append(
            {
                "apiVersion": API_VERSION,
                "kind": "KafkaUser",
                "metadata": {"name": user, "labels": cluster.labels},
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {
                        "type": "simple",
                        "acls": [strimzi_acl(a) for a in goal.acls if a.principal == user],
                    },
                },
            }
        )
    return users


def _check_object_name(name: str, what: str) -> None:
    if len(name) > 253 or not OBJECT_NAME.match(name):
        raise ValueError(f"{what} {name!r} is no Kubernetes object name (a DNS-1123 subdomain)")


def generate(codes: Iterable[str], cluster: Cluster = Cluster()) -> dict[str, str]:
    """The files of deploy/kubernetes/strimzi, by name."""
    codes = sorted(codes)
    header = (
        f"# Generated by `{COMMAND}` from schemas/departments.json: do not edit.\n"
        f"# `{COMMAND} --check` fails when this file is out of date.\n"
    )
    documents = {
        "kafka.yaml": kafka_resources(cluster),
        "topics.yaml": [topic_resource(t, cluster) for t in cluster_topics(codes, cluster)],
        "users.yaml": user_resources(codes, cluster),
    }
    return {name: header + dump_all(docs) for name, docs in documents.items()}


def dump_all(documents: Iterable[Any]) -> str:
    """YAML documents, each after a `---`. Written here, since the package does not depend on
    a YAML library: block style, and strings quoted wherever YAML could read them otherwise."""
    return "".join("---\n" + "\n".join(_lines(document, 0)) + "\n" for document in documents)


# A string left plain: YAML 1.1 and 1.2 both read it back as this string.
PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if PLAIN.match(value) and value.lower() not in YAML_WORDS:
            return value
        # A JSON string is a YAML double-quoted scalar.
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"no YAML for {type(value).__name__}")


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_scalar(key)}:")
                # A list goes at its key's indentation, as kubectl and most tools write it.
                lines += _lines(item, indent if isinstance(item, list) else indent + 2)
            else:
                lines.append(f"{pad}{_scalar(key)}: {_empty_or_scalar(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            inner = _lines(item, indent + 2) if isinstance(item, dict | list) and item else None
            if inner is None:
                lines.append(f"{pad}- {_empty_or_scalar(item)}")
            else:
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
        return lines
    return [pad + _scalar(value)]


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar(value)


def run_strimzi(
    schemas_dir: Path, output: Path, check: bool, out: Callable[[str], Any] = print
) -> int:
    """Write the files, or with check, say whether the written ones are up to date."""
    try:
        files = generate(Registry.load(schemas_dir).codes)
    except (OSError, ValueError) as error:
        out(f"error: {error}")
        return 1
    if not check:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (output / name).write_text(text, encoding="utf-8")
        out(f"wrote {', '.join(str(output / name) for name in files)}")
        return 0
    stale = 0
    for name, text in files.items():
        path = output / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        stale += 1
        out(f"{path} is out of date with schemas/departments.json: run `{COMMAND}`")
        diff = difflib.unified_diff(
            current.splitlines(), text.splitlines(), "written", "generated", lineterm="", n=1
        )
        for line in list(diff)[:40]:
            out(line)
    if not stale:
        out(f"{output} is up to date")
    return 1 if stale else 0
