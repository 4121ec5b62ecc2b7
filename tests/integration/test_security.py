"""The hub on the real secured broker (TLS, SCRAM-SHA-512, ACLs), provisioned from the
registry: who may write and read what, records that claim another department, refused
logins, and no secret in anything the hub or a client shows."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaClient, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaConnectionError
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from pelastus_hub.client.publisher import Publisher
from pelastus_hub.clients import ConnectFailed, KafkaClients
from pelastus_hub.contract.registry import Registry
from pelastus_hub.contract.topics import (
    CAPABILITY,
    DEAD_LETTER,
    KPI,
    SNAPSHOT_REQUESTS,
    feedback_topic,
    input_topic,
    state_topic,
)
from pelastus_hub.families import FAMILIES
from pelastus_hub.runtime.group_offsets import OFFSETS_TOPIC
from pelastus_hub.runtime.topic_admin import partition_count
from pelastus_hub.settings import HubSettings, read_secret
from pelastus_hub.tools import simulator
from pelastus_hub.tools.localkafka import LocalKafka
from pelastus_hub.tools.provision import provision
from pelastus_hub.tools.provision.broker_admin import BrokerAdmin, admin_config
from pelastus_hub.tools.provision.plan import HUB_USER, READER_USER
from tests.integration.hub_process import WorkerProcess
from tests.integration.security_access import Case, reads, writes
from tests.unit.helpers import event

pytestmark = pytest.mark.integration

HUB_TOPICS = [DEAD_LETTER, SNAPSHOT_REQUESTS, *(state_topic(f) for f in sorted(FAMILIES))]
NATIONAL = [CAPABILITY, KPI]


@dataclass
class Secured:
    kafka: LocalKafka
    secrets: Path
    codes: list[str]
    provisioning_seconds: float

    def settings(self, user: str = "admin", password: str | None = None) -> HubSettings:
        if user != "admin" and password is None:
            password = read_secret(self.secrets / f"{user}.password")
        return self.kafka.settings(user, password)

    def admin(self) -> AdminClient:
        return AdminClient(admin_config(self.settings()))


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with LocalKafka(secure=True) as kafka:
        secrets = tmp_path_factory.mktemp("secrets")
        codes = sorted(Registry.load(HubSettings().schemas_dir).codes)
        began = time.monotonic()
        provision(kafka.settings(), codes, secrets, progress=lambda _: None)
        yield Secured(kafka, secrets, codes, time.monotonic() - began)


@pytest.fixture(scope="module")
def hub_worker(secured, tmp_path_factory):
    """A worker logged in as the hub, its API behind a token."""
    folder = tmp_path_factory.mktemp("hub-worker")
    (folder / "api.token").write_text("api-token-of-the-security-test\n")
    connection = secured.kafka.connection(HUB_USER, "unused")
    process = WorkerProcess(
        str(connection["bootstrap_servers"]),
        folder / "worker.log",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=HUB_USER,
        sasl_password_file=str(secured.secrets / f"{HUB_USER}.password"),
        ssl_cafile=str(connection["ssl_cafile"]),
        api_token_file=str(folder / "api.token"),
        log_level="info",
    )
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


def test_provisioning_again_changes_nothing_and_reports_what_the_registry_lost(secured):
    print(f"provisioning the registry's 21 departments: {secured.provisioning_seconds:.1f} s")
    lines: list[str] = []
    steps = provision(secured.settings(), secured.codes, secured.secrets, progress=lines.append)
    assert {step.action for step in steps} == {"keep"}
    assert lines[-1] == "provision: nothing to change"
    # 21 departments: 3 inputs and a feedback topic each, 4 national and hub topics, a
    # state topic per family; a user each and the hub and reader; 4 ACLs a department,
    # 10 of the hub and 2 of the reader.
    kept = Counter(step.kind for step in steps)
    assert kept == {"topic": 21 * 4 + 4 + 3, "user": 21 + 2, "acl": 21 * 4 + 10 + 2}

    gone = "lappi"
    steps = provision(
        secured.settings(),
        [c for c in secured.codes if c != gone],
        secured.secrets,
        dry_run=True,
        progress=lines.append,
    )
    reported = {(s.kind, s.name) for s in steps if s.action == "report"}
    assert reported == {
        *(("topic", input_topic(gone, family)) for family in FAMILIES),
        ("topic", feedback_topic(gone)),
        ("user", gone),
        ("acl", gone),
    }
    assert not [s for s in steps if s.action == "create"]
    current, _ = BrokerAdmin(secured.settings()).current()
    assert gone in current.users and input_topic(gone, "incident") in current.topics


async def test_every_department_writes_and_reads_only_its_own(secured):
    """The access matrix: each department against every department's topics."""
    inputs = {code: [input_topic(code, f) for f in sorted(FAMILIES)] for code in secured.codes}

    async def cases_of(user: str) -> list[Case]:
        settings = secured.settings(user)
        every_input = [t for code in secured.codes for t in inputs[code]]
        written = await writes(settings, [*every_input, *HUB_TOPICS, *NATIONAL])
        feedback = [feedback_topic(code) for code in secured.codes]
        read = await reads(settings, [*every_input, *feedback, *HUB_TOPICS, *NATIONAL])
        cases = [
            Case(user, "write", topic, topic in inputs.get(user, ()), taken)
            for topic, taken in written.items()
        ]
        cases += [
            Case(user, "read", topic, topic == feedback_topic(user) or topic in NATIONAL, answered)
            for topic, answered in read.items()
        ]
        return cases

    users = [*secured.codes, READER_USER]
    results = [case for cases in await asyncio.gather(*map(cases_of, users)) for case in cases]
    wrong = [case for case in results if case.allowed != case.observed]
    assert not wrong, wrong[:10]
    count = Counter((case.operation, case.allowed) for case in results)
    # Per department: 63 inputs, 5 hub topics and 2 national ones to write to; those and
    # 21 feedback topics to read from.
    assert len(results) == len(users) * (63 + 5 + 2 + 63 + 21 + 5 + 2)
    assert count[("write", True)] == 21 * 3
    assert count[("read", True)] == 21 + len(users) * 2  # own feedback, the national outputs
    print(f"access matrix: {len(results)} cases, all as the ACLs say: {dict(count)}")


async def test_the_hub_reads_every_input_and_writes_none(secured):
    settings = secured.settings(HUB_USER)
    inputs = [input_topic(code, f) for code in secured.codes for f in sorted(FAMILIES)]
    feedback = [feedback_topic(code) for code in secured.codes]
    read = await reads(settings, [*inputs, *feedback, *HUB_TOPICS, *NATIONAL])
    assert read == {
        **dict.fromkeys(inputs, True),
        **dict.fromkeys(feedback, False),
        **dict.fromkeys([*HUB_TOPICS, *NATIONAL], True),
    }
    # Not to hub.*: a record there would be the worker's state.
    assert await writes(settings, [*inputs, *feedback]) == {
        **dict.fromkeys(inputs, False),
        **dict.fromkeys(feedback, True),
    }
    # A resuming worker asks for the offsets of its group's partition of this topic, which
    # the broker makes when a group first commits.
    assert await _commits(secured, "admin", "security-test.probe")
    assert await partition_count(KafkaClients.from_settings(settings), OFFSETS_TOPIC)
    lappi = KafkaClients.from_settings(secured.settings("lappi"))
    assert await partition_count(lappi, OFFSETS_TOPIC) is None


async def _commits(secured: Secured, user: str, group: str) -> bool:
    """Whether user may commit an offset in group."""
    consumer = KafkaClients.from_settings(secured.settings(user)).consumer(
        group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(CAPABILITY, 0)
        consumer.assign([partition])
        try:
            await consumer.commit({partition: 0})
            return True
        except GroupAuthorizationFailedError:
            return False
    finally:
        await consumer.stop()


async def test_department_groups_are_its_own(secured):
    """A department may keep offsets only in groups named after it."""
    codes = secured.codes
    for code, neighbour in zip(codes, [*codes[1:], codes[0]], strict=True):
        assert await _commits(secured, code, f"{code}.dashboard")
        assert not await _commits(secured, code, f"{neighbour}.dashboard")
        assert not await _commits(secured, code, "pelastus-hub")


def _loosened(user: str, onto: str) -> tuple:
    """An ACL letting user write to another department's inputs, as AclBinding arguments."""
    return (
        ResourceType.TOPIC,
        f"dept.{onto}.",
        ResourcePatternType.PREFIXED,
        f"User:{user}",
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )


async def test_a_department_claiming_another_is_dead_lettered_and_counted(secured, hub_worker):
    """With the ACLs loosened, lappi writes to helsinki's topic as itself and to its own
    topic as helsinki: the hub catches both."""
    hub_worker.wait_consumed(await _inputs_total(secured))  # what earlier tests sent
    before = _security_picture(hub_worker, await _everything_on(secured, [DEAD_LETTER]))
    admin = secured.admin()  # kept: a client dropped ends its requests unanswered
    loosened = _loosened("lappi", "helsinki")
    (future,) = admin.create_acls([AclBinding(*loosened)]).values()
    future.result(timeout=30)
    try:
        await _wait_until_taken(secured, "lappi", input_topic("helsinki", "unit-status"))
        producer = KafkaClients.from_settings(secured.settings("lappi")).producer(acks="all")
        await producer.start()
        try:
            for topic, claimed in (
                (input_topic("helsinki", "unit-status"), "lappi"),
                (input_topic("lappi", "unit-status"), "helsinki"),
                (input_topic("lappi", "unit-status"), "lappi"),
            ):
                value = orjson.dumps(event(department=claimed))
                await producer.send_and_wait(topic, value, b"RPI487")
        finally:
            await producer.stop()
    finally:
        (future,) = admin.delete_acls([AclBindingFilter(*loosened)]).values()
        future.result(timeout=30)
    hub_worker.wait_consumed(await _inputs_total(secured))
    after = _security_picture(hub_worker, await _everything_on(secured, [DEAD_LETTER]))
    assert after - before == Counter(
        {
            ("security", "helsinki", "department_mismatch"): 1,
            ("security", "lappi", "department_mismatch"): 1,
            ("dead letter", "department_mismatch"): 2,
            ("outcome", "lappi", "accepted"): 1,
        }
    )


def _security_picture(worker: WorkerProcess, dead: list[tuple[str, str]]) -> Counter:
    """The security counter, lappi's accepted records and the dead letters by reason."""
    picture: Counter = Counter()
    security = worker.counter("pelastus_hub_security_events_total", ("department", "reason"))
    picture.update({("security", *key): n for key, n in security.items()})
    picture[("outcome", "lappi", "accepted")] = worker.records_total().get(("lappi", "accepted"), 0)
    picture.update(
        ("dead letter", "department_mismatch") for _, b in dead if "department_mismatch" in b
    )
    return picture


async def _inputs_total(secured: Secured) -> int:
    """How many records all input topics hold: a worker that has consumed as many is idle."""
    consumer = KafkaClients.from_settings(secured.settings()).consumer(enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(input_topic(code, family), number)
            for code in secured.codes
            for family in FAMILIES
            for number in range(HubSettings().input_partitions)
        ]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def _wait_until_taken(secured: Secured, user: str, topic: str) -> None:
    """An ACL just made is in force once the broker takes a write under it."""
    deadline = time.monotonic() + 30
    while not (await writes(secured.settings(user), [topic]))[topic]:
        assert time.monotonic() < deadline, f"{user} still may not write to {topic}"
        await asyncio.sleep(0.2)


async def _logs_in(settings: HubSettings) -> bool:
    client = AIOKafkaClient(**settings.kafka_options())
    try:
        await client.bootstrap()
        return True
    except KafkaConnectionError:
        return False
    finally:
        await client.close()


def _publisher(settings: HubSettings) -> Publisher:
    registry = Registry.load(settings.schemas_dir)
    return Publisher(
        "helsinki", source="/pelastuslaitos/helsinki/test", settings=settings, registry=registry
    )


async def _refusal(settings: HubSettings) -> str:
    publisher = _publisher(settings)
    with pytest.raises(ConnectFailed) as refused:
        await publisher.start()
    return str(refused.value)


async def test_wrong_password_removed_user_and_plaintext_are_refused_clearly(secured):
    message = await _refusal(secured.settings("helsinki", "not-the-password"))
    assert "refused the login of user 'helsinki' (SCRAM-SHA-512)" in message

    admin = secured.admin()
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    (made,) = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion("leaving", info, b"leaving-password")]
    ).values()
    made.result(timeout=30)
    leaving = secured.settings("leaving", "leaving-password")
    deadline = time.monotonic() + 30
    while not await _logs_in(leaving):  # a new user can log in once the broker has it
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    (removed,) = admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion("leaving", ScramMechanism.SCRAM_SHA_512)]
    ).values()
    removed.result(timeout=30)
    deadline = time.monotonic() + 30
    while "leaving" in BrokerAdmin(secured.settings()).current()[0].users:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert "refused the login of user 'leaving'" in await _refusal(leaving)

    plaintext = HubSettings(bootstrap_servers=secured.kafka.bootstrap_servers)
    assert "takes only TLS connections" in await _refusal(plaintext)
    untrusted = secured.settings("helsinki").model_copy(update={"ssl_cafile": None})
    assert "is not trusted" in await _refusal(untrusted)


async def test_no_secret_in_logs_metrics_responses_dead_letters_or_feedback(
    secured, hub_worker, tmp_path
):
    secrets = {path.name: path.read_text() for path in secured.secrets.glob("*.password")}
    secrets["admin"] = secured.kafka.admin_password_file.read_text()
    secrets["api token"] = "api-token-of-the-security-test"
    assert len(secrets) == 21 + 3 + 1 and all(len(s) >= 20 for s in secrets.values())

    lines: list[str] = []
    before = sum(hub_worker.records_total().values())
    await simulator.run(
        secured.settings(HUB_USER),  # each department sends as itself, with credentials_dir
        Registry.load(HubSettings().schemas_dir),
        seed=7,
        rate=2000,
        duration=None,
        count=600,
        invalid_share=0.3,
        duplicate_share=0.0,
        out_of_order_share=0.0,
        binary_share=0.1,
        progress=lines.append,
        credentials_dir=secured.secrets,
    )
    hub_worker.wait_consumed(before + 600, timeout=90)
    token = {"Authorization": f"Bearer {secrets['api token']}"}
    shown = [hub_worker.log_path.read_text(), "\n".join(lines)]
    for path in ("/metrics", "/healthz", "/readyz", "/api/v1/accounting", "/api/v1/capability"):
        status, headers, body = hub_worker.request(path, token)
        assert status == 200, (path, body)
        shown.append(str(headers) + body.decode())
    status, headers, body = hub_worker.request("/api/v1/capability", {"Authorization": "Bearer x"})
    assert status == 401
    shown.append(str(headers) + body.decode())

    records = await _everything_on(secured, [DEAD_LETTER, *map(feedback_topic, secured.codes)])
    assert sum(topic == DEAD_LETTER for topic, _ in records) >= 150  # the invalid share
    shown += [blob for _, blob in records]

    everything = "\n".join(shown)
    # What is searched holds what was shown: the outcomes, the reasons, the log's lines.
    assert "department_mismatch" in everything and "pelastus_hub_records_total" in everything
    leaked = [name for name, secret in secrets.items() if secret in everything]
    assert not leaked, f"secrets shown: {leaked}"


async def _everything_on(secured: Secured, topics: list[str]) -> list[tuple[str, str]]:
    """Every committed record's key, value and headers on these topics, as the admin reads
    them, up to their ends now."""
    clients = KafkaClients.from_settings(secured.settings())
    partitions = [
        TopicPartition(topic, number)
        for topic in topics
        for number in range(await partition_count(clients, topic))
    ]
    consumer = clients.consumer(enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        deadline = time.monotonic() + 60
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, "the topics were not read to their ends"
            batch = await consumer.getmany(timeout_ms=500)
            for partition, batch_records in batch.items():
                for r in batch_records:
                    blob = [r.key or b"", r.value or b"", *(v for _, v in r.headers)]
                    found.append((partition.topic, b"\n".join(blob).decode(errors="replace")))
        return found
    finally:
        await consumer.stop()


def test_a_killed_hub_worker_resumes_under_its_acls(hub_worker):
    """Restarted, it finds its group's offsets partition (no warning that it cannot), is
    ready again and goes on from its committed offsets: every right a resuming worker uses
    is granted."""
    assert hub_worker.records_total()  # it had consumed before it was killed
    hub_worker.kill()
    hub_worker.start()
    assert "cannot be seen" not in hub_worker.log_path.read_text()
    # Nothing was sent since: a worker that went on from anywhere else would count again.
    assert hub_worker.records_total() == {}
