"""The deployment files (deploy/compose, deploy/kubernetes/hub), checked without Docker or a
cluster: the compose file against the Compose Specification's schema, the manifests against
Kubernetes' own schemas (kubernetes-validate), and both against the hub: every PELASTUS_HUB_*
variable they set is a setting, and the images, ports, paths and names they share agree."""

import http.server
import os
import re
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from pelastus_hub.settings import ENV_PREFIX, SECRET_FIELDS, HubSettings
from pelastus_hub.tools.provision.plan import HUB_USER
from pelastus_hub.tools.strimzi import OUTPUT, Cluster

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
HUB_MANIFESTS = ROOT / "deploy" / "kubernetes" / "hub"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
# A Kubernetes version kubernetes-validate bundles; the manifests use only stable APIs.
KUBERNETES_VERSION = "1.33.0"
WORKERS = ("hub-1", "hub-2")
SETTINGS = {ENV_PREFIX + name.upper() for name in HubSettings.model_fields} | {
    f"{ENV_PREFIX}{name.upper()}_FILE" for name in SECRET_FIELDS
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(HUB_MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def hub_variables(environment: dict[str, Any]) -> set[str]:
    return {name for name in environment if name.startswith(ENV_PREFIX)}


def test_the_compose_file_follows_the_compose_specification(compose) -> None:
    schema = yaml.safe_load(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    broken = {**compose, "services": {**compose["services"], "hub-1": {"image": 3, "portz": []}}}
    assert not validator.is_valid(broken)


def test_every_hub_variable_set_is_a_setting(compose, manifests) -> None:
    used: set[str] = set()
    for service in compose["services"].values():
        used |= hub_variables(service.get("environment", {}))
    used |= hub_variables(manifests["ConfigMap"]["data"])
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    used |= hub_variables({variable["name"]: None for variable in container["env"]})
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    used |= set(re.findall(rf"\b({ENV_PREFIX}[A-Z_]+)=", dockerfile))
    assert {f"{ENV_PREFIX}SASL_PASSWORD_FILE", f"{ENV_PREFIX}WEB_HOST"} <= used
    assert used - SETTINGS == set()


@pytest.mark.parametrize("worker", WORKERS)
def test_each_compose_worker_has_settings_the_hub_accepts(compose, worker, monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in compose["services"][worker]["environment"].items():
        monkeypatch.setenv(name, str(value))
    settings = HubSettings()
    assert settings.replication_factor == 3
    assert settings.web_host == "0.0.0.0"


def test_the_compose_workers_are_distinct_and_scraped(compose) -> None:
    services = compose["services"]
    instances, targets = set(), set()
    for worker in WORKERS:
        service = services[worker]
        environment = service["environment"]
        port = environment[f"{ENV_PREFIX}WEB_PORT"]
        instances.add(environment[f"{ENV_PREFIX}WORKER_INSTANCE"])
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
        targets.add(f"{worker}:{port}")
    assert len(instances) == len(WORKERS)
    assert len({t.split(":")[1] for t in targets}) == len(WORKERS)
    prometheus = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["job_name"] == "pelastus-hub"
    assert job["metrics_path"] == "/metrics"
    assert {t for c in job["static_configs"] for t in c["targets"]} == targets
    # The job the project's alert rules select on.
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert 'up{job="pelastus-hub"}' in alerts


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: where in the container, and what of the repository."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            found[target] = (COMPOSE_DIR / source).resolve()
    return found


def test_prometheus_and_grafana_get_the_projects_files(compose) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    config = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config"))
    mounted = mounts(prometheus)
    assert mounted[config] == COMPOSE_DIR / "prometheus.yml"
    for rule_file in yaml.safe_load(mounted[config].read_text())["rule_files"]:
        inside = str(Path(config).parent / rule_file)
        folder = next(target for target in mounted if inside.startswith(target + "/"))
        assert (mounted[folder] / inside.removeprefix(folder + "/")).is_file(), rule_file
    assert mounted["/etc/prometheus/pelastus-hub"] == ROOT / "deploy" / "prometheus"
    grafana = mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == ROOT / "deploy" / "grafana" / "provisioning"
    assert grafana["/var/lib/grafana/dashboards"] == ROOT / "deploy" / "grafana" / "dashboards"
    providers = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "pelastus-hub.yml"
    (provider,) = yaml.safe_load(providers.read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    sources = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    (source,) = yaml.safe_load(sources.read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in services["prometheus"]["ports"]


def test_the_images_agree(compose, manifests) -> None:
    services = compose["services"]
    kafka = {services[name]["image"] for name in services if name.startswith(("kafka-", "cluster"))}
    project_kafka = re.search(
        r"<kafka.version>(.+)</kafka.version>", (ROOT / "deploy" / "kafka" / "pom.xml").read_text()
    )
    assert project_kafka
    assert kafka == {f"apache/kafka:{project_kafka[1]}"}
    hub_image = f"pelastus-hub:{metadata.version('pelastus-hub')}"
    for name in (*WORKERS, "simulator"):
        assert services[name]["image"] == hub_image
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == hub_image
    for worker in WORKERS:
        build = services[worker]["build"]
        assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == (
            COMPOSE_DIR / "Dockerfile"
        )


def test_the_dockerfile_builds_a_wheel_and_runs_the_worker_as_no_root() -> None:
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", dockerfile, re.MULTILINE)
    assert len(stages) == 2 and stages[0][1] == "builder" and stages[1][1] == ""
    assert "pip wheel" in dockerfile.split("\nFROM ")[1]
    final = dockerfile.split("\nFROM ")[2]
    assert "--no-index" in final and "COPY hub" not in final
    (user,) = re.findall(r"^USER (\S+)$", final, re.MULTILINE)
    assert user.split(":")[0] not in ("0", "root")
    assert re.search(r'^CMD \["pelastus-hub", "worker"\]$', final, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*pelastus-hub-healthcheck", final, re.MULTILINE)
    assert re.search(rf"^EXPOSE {HubSettings.model_fields['web_port'].default}$", final, re.M)
    # What it copies exists in the checkout, and the ignore file beside it lets it through.
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().split()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
            assert f"!{path}" in ignore, path


@pytest.fixture
def health_server():
    """A stand-in for a worker's /healthz: 200 for the token "t0ken", 401 otherwise."""

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/healthz" and self.headers.get("Authorization") == "Bearer t0ken"
            self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run_healthcheck(port: int, **environment: str) -> int:
    env = {"PATH": os.environ["PATH"], f"{ENV_PREFIX}WEB_PORT": str(port), **environment}
    script = COMPOSE_DIR / "healthcheck.py"
    return subprocess.run([sys.executable, script], env=env, capture_output=True).returncode


def test_the_images_health_check_asks_healthz_with_the_token(health_server, tmp_path) -> None:
    token = tmp_path / "health.token"
    token.write_text("t0ken\n")
    assert run_healthcheck(health_server, **{f"{ENV_PREFIX}HEALTH_TOKEN_FILE": str(token)}) == 0
    assert run_healthcheck(health_server, **{f"{ENV_PREFIX}HEALTH_TOKEN": "t0ken"}) == 0
    assert run_healthcheck(health_server) == 1
    server_gone = health_server + 1 if health_server < 65535 else health_server - 1
    assert run_healthcheck(server_gone, **{f"{ENV_PREFIX}HEALTH_TOKEN": "t0ken"}) == 1


@pytest.mark.parametrize("path", sorted(HUB_MANIFESTS.glob("*.yaml")), ids=lambda p: p.name)
def test_the_manifests_are_valid_kubernetes(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validate_refuses_a_misspelt_field(manifests) -> None:
    deployment = manifests["Deployment"]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_runs_two_probed_workers(manifests) -> None:
    deployment = manifests["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port = int(manifests["ConfigMap"]["data"][f"{ENV_PREFIX}WEB_PORT"])
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"requests", "limits"} <= set(container["resources"])
    assert container["envFrom"] == [
        {"configMapRef": {"name": manifests["ConfigMap"]["metadata"]["name"]}}
    ]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"
    labels = pod["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        spec = manifests[kind]["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector.items() <= labels.items(), kind
    assert manifests["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert manifests["PodDisruptionBudget"]["spec"]["minAvailable"] == 1


def test_the_secret_files_are_mounted_where_the_settings_say(manifests) -> None:
    spec = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    files: dict[str, str] = {}  # a file's path in the container: its Secret
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        for item in secret["items"] if secret else []:
            files[f"{mount['mountPath']}/{item['path']}"] = secret["secretName"]
    env = {v["name"]: v.get("value") for v in container["env"]}
    settings = {**manifests["ConfigMap"]["data"], **env}
    secret_settings = {f"{ENV_PREFIX}{name.upper()}_FILE" for name in SECRET_FIELDS}
    given = {name for name in settings if name in secret_settings}
    assert given == secret_settings - {f"{ENV_PREFIX}HEALTH_TOKEN_FILE"}
    cluster = Cluster()
    assert files[settings[f"{ENV_PREFIX}SASL_PASSWORD_FILE"]] == HUB_USER
    assert files[settings[f"{ENV_PREFIX}SSL_CAFILE"]] == f"{cluster.name}-cluster-ca-cert"
    for name in given:
        assert settings[name] in files, name
    assert env[f"{ENV_PREFIX}WORKER_INSTANCE"] is None  # from the pod's name


def test_the_hub_connects_to_the_generated_cluster_as_its_user(manifests) -> None:
    data = manifests["ConfigMap"]["data"]
    cluster = Cluster()
    assert data[f"{ENV_PREFIX}BOOTSTRAP_SERVERS"] == cluster.bootstrap
    assert data[f"{ENV_PREFIX}SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data[f"{ENV_PREFIX}SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert data[f"{ENV_PREFIX}SASL_USERNAME"] == HUB_USER
    # The group the hub's ACLs name, and the topics' shape if a worker were to make them.
    assert data[f"{ENV_PREFIX}GROUP_ID"] == cluster.group_id
    assert int(data[f"{ENV_PREFIX}INPUT_PARTITIONS"]) == cluster.input_partitions
    assert int(data[f"{ENV_PREFIX}REPLICATION_FACTOR"]) == cluster.replicas
    assert f"{ENV_PREFIX}MAX_MESSAGE_BYTES" not in data  # the default the topics are sized for
    users = yaml.safe_load_all((ROOT / OUTPUT / "users.yaml").read_text())
    assert HUB_USER in {u["metadata"]["name"] for u in users if u}
