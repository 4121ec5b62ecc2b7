"""`pelastus-hub kubernetes strimzi`: the committed Strimzi resources are what the registry
generates now, they hold exactly the provisioning plan's topics, users and ACLs, and they are
valid against Strimzi 1.2.0's CRDs (tests/unit/schemas/README.md says where those come from)."""

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pelastus_hub.cli import main
from pelastus_hub.contract.registry import Registry
from pelastus_hub.settings import HubSettings, packaged_schemas
from pelastus_hub.tools.provision import wanted_topics
from pelastus_hub.tools.provision.plan import HUB_USER, READER_USER, Acl, wanted
from pelastus_hub.tools.strimzi import (
    OUTPUT,
    Cluster,
    dump_all,
    generate,
    run_strimzi,
    strimzi_acl,
    user_resources,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / OUTPUT
CRDS = Path(__file__).resolve().parent / "schemas" / "strimzi"
CODES = sorted(Registry.load(packaged_schemas()).codes)


def load(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


@pytest.fixture(scope="module")
def resources() -> dict[str, list[dict[str, Any]]]:
    return {name: load((COMMITTED / name).read_text()) for name in generate(CODES)}


def strict(schema: Any) -> Any:
    """A CRD's schema as the API server applies it with strict field validation (kubectl's
    default): an object's fields are the ones it lists, unless it keeps unknown fields."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft4Validator]:
    """A validator per kind, of its CRD's v1 schema (OpenAPI v3's subset of draft 4), with
    apiVersion, kind and metadata as the API server requires them."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
        schema["properties"]["apiVersion"]["const"] = f"{crd['spec']['group']}/v1"
        schema["properties"]["kind"]["const"] = crd["spec"]["names"]["kind"]
        schema["properties"]["metadata"] = {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "labels": {"type": "object"}},
            "additionalProperties": False,
        }
        found[crd["spec"]["names"]["kind"]] = jsonschema.Draft4Validator(schema)
    assert set(found) == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    return found


def test_the_committed_files_are_what_the_registry_generates_now() -> None:
    for name, text in generate(CODES).items():
        assert (COMMITTED / name).read_text() == text, "run `pelastus-hub kubernetes strimzi`"
    assert run_strimzi(packaged_schemas(), COMMITTED, check=True, out=lambda line: None) == 0


def test_the_command_checks_the_committed_files(capsys) -> None:
    assert main(["kubernetes", "strimzi", "--check"]) == 0
    assert "is up to date" in capsys.readouterr().out


def test_check_fails_on_a_file_out_of_date_and_writing_mends_it(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_strimzi(packaged_schemas(), tmp_path, check=True, out=lines.append) == 1
    assert sum(line.startswith(f"{tmp_path}/") for line in lines) == 3
    assert run_strimzi(packaged_schemas(), tmp_path, check=False, out=lines.append) == 0
    assert run_strimzi(packaged_schemas(), tmp_path, check=True, out=lines.append) == 0
    users = tmp_path / "users.yaml"
    users.write_text(users.read_text().replace("- Read\n", "- All\n", 1))
    lines.clear()
    assert run_strimzi(packaged_schemas(), tmp_path, check=True, out=lines.append) == 1
    assert lines[0] == (
        f"{users} is out of date with schemas/departments.json: run "
        "`pelastus-hub kubernetes strimzi`"
    )


def test_an_unreadable_registry_is_one_error_line(tmp_path: Path) -> None:
    lines: list[str] = []
    assert run_strimzi(tmp_path / "none", tmp_path, check=False, out=lines.append) == 1
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_every_resource_is_valid_against_strimzis_crds(resources, validators) -> None:
    documents = [doc for docs in resources.values() for doc in docs]
    assert len(documents) == 3 + 91 + 23
    for document in documents:
        errors = list(validators[document["kind"]].iter_errors(document))
        assert errors == [], (document["metadata"]["name"], [e.message for e in errors])


def test_the_crd_check_refuses_what_strimzi_would(resources, validators) -> None:
    user = resources["users.yaml"][0]
    misspelt = {**user, "spec": {**user["spec"], "authentification": {"type": "scram-sha-512"}}}
    assert not validators["KafkaUser"].is_valid(misspelt)
    acl = strimzi_acl(Acl("lappi", "READ", "TOPIC", "x", False)) | {"operations": ["Peek"]}
    bad_acl = {**user, "spec": {**user["spec"], "authorization": {"type": "simple", "acls": [acl]}}}
    assert not validators["KafkaUser"].is_valid(bad_acl)
    kafka = resources["kafka.yaml"][-1]
    no_listeners = {**kafka, "spec": {**kafka["spec"], "kafka": {"version": "4.3.1"}}}
    assert not validators["Kafka"].is_valid(no_listeners)


def test_the_cluster_is_kraft_with_node_pools_scram_over_tls_and_simple_authorization(
    resources,
) -> None:
    *pools, kafka = resources["kafka.yaml"]
    assert {tuple(p["spec"]["roles"]) for p in pools} == {("controller",), ("broker",)}
    assert all(
        p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools
    )
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert set(kafka["spec"]["entityOperator"]) == {"topicOperator", "userOperator"}


def test_the_topics_are_the_provisioning_plans(resources) -> None:
    cluster = Cluster()
    settings = HubSettings(
        input_partitions=cluster.input_partitions,
        replication_factor=cluster.replicas,
        max_message_bytes=cluster.max_message_bytes,
    )
    topics = wanted_topics(
        CODES, settings.input_partitions, settings.replication_factor, settings.max_record_bytes
    )
    planned = {t.name: (t.partitions, t.replicas, dict(t.configs)) for t in topics}
    generated = {
        t["spec"]["topicName"]: (
            t["spec"]["partitions"],
            t["spec"]["replicas"],
            t["spec"].get("config", {}),
        )
        for t in resources["topics.yaml"]
    }
    assert generated == planned
    assert all(t["metadata"]["name"] == t["spec"]["topicName"] for t in resources["topics.yaml"])


def plan_acl(user: str, acl: dict[str, Any]) -> Acl:
    """A KafkaUser's ACL back in the plan's terms."""
    (operation,) = acl["operations"]
    resource = {"topic": "TOPIC", "group": "GROUP", "transactionalId": "TRANSACTIONAL_ID"}
    assert acl["type"] == "allow" and acl["host"] == "*"
    return Acl(
        user,
        operation.upper(),
        resource[acl["resource"]["type"]],
        acl["resource"]["name"],
        acl["resource"]["patternType"] == "prefix",
    )


def test_the_users_and_their_acls_are_exactly_the_provisioning_plans(resources) -> None:
    goal = wanted(CODES, (), Cluster().group_id, admin_user=None)
    users = resources["users.yaml"]
    assert [u["metadata"]["name"] for u in users] == list(goal.users)
    assert {HUB_USER, READER_USER} < {u["metadata"]["name"] for u in users}
    assert all(u["spec"]["authentication"] == {"type": "scram-sha-512"} for u in users)
    acls = [
        plan_acl(u["metadata"]["name"], acl)
        for u in users
        for acl in u["spec"]["authorization"]["acls"]
    ]
    assert acls == list(goal.acls)
    assert len(acls) == 96


def test_a_new_department_is_one_more_user_and_its_topics() -> None:
    before = {name: load(text) for name, text in generate(CODES).items()}
    after = {name: load(text) for name, text in generate([*CODES, "testi"]).items()}
    assert after["kafka.yaml"] == before["kafka.yaml"]
    added = [t["metadata"]["name"] for t in after["topics.yaml"] if t not in before["topics.yaml"]]
    assert sorted(added) == [
        "dept.testi.incident",
        "dept.testi.readiness",
        "dept.testi.unit-status",
        "feedback.testi",
    ]
    (user,) = [u for u in after["users.yaml"] if u not in before["users.yaml"]]
    assert user["metadata"]["name"] == "testi"
    assert {a["resource"]["name"] for a in user["spec"]["authorization"]["acls"]} == {
        "dept.testi.",
        "feedback.testi",
        "national.",
        "testi.",
    }


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (["Lappi"], "is no Kubernetes object name"),
        (["pelastus-hub"], "has the name of the pelastus-hub user"),
    ],
)
def test_a_registry_the_plan_or_kubernetes_refuses_is_an_error(codes, message) -> None:
    with pytest.raises(ValueError, match=message):
        user_resources(codes, Cluster())


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "No",
        "on",
        "null",
        "~",
        "",
        "3",
        "1e3",
        "0x10",
        "4.3.1",
        "*",
        "a: b",
        "#x",
        "-",
        "- x",
        "[x]",
        "{x}",
        "it's",
        'say "x"',
        "dept.",
        "User:lappi",
        "åland",
        " x",
        "x ",
    ],
)
def test_written_yaml_reads_back_as_the_same_values(value: str) -> None:
    document = {"a": value, "b": [value, {"c": value, "d": []}], "e": {}, "f": 3, "g": False}
    assert yaml.safe_load(dump_all([document]).removeprefix("---\n")) == document
