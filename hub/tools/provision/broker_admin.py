"""The broker's topics, SCRAM users and ACLs, read and created over Kafka's admin protocol
(confluent-kafka's AdminClient: aiokafka's has no ACL or SCRAM calls)."""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from pelastus_hub.clients import explain_connect_failure
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.provision.plan import Acl, Current, Plan

# Kafka's default; the broker stores only the salted hash either way.
SCRAM_ITERATIONS = 8192
# The first request, which also tells whether the broker can be reached at all.
CONNECT_TIMEOUT_SECONDS = 10.0


class BrokerAdminError(RuntimeError):
    """What went wrong on the broker, in one line for the operator."""


def admin_config(settings: HubSettings) -> dict[str, str]:
    """The connection of HubSettings in librdkafka's terms."""
    config = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
    }
    if login := settings.login():
        config |= {"sasl.mechanism": settings.sasl_mechanism}
        config["sasl.username"], config["sasl.password"] = login
    optional = {
        "ssl.ca.location": settings.ssl_cafile,
        "ssl.certificate.location": settings.ssl_certfile,
        "ssl.key.location": settings.ssl_keyfile,
    }
    config |= {key: str(value) for key, value in optional.items() if value}
    return config


def _binding(acl: Acl) -> AclBinding:
    pattern = ResourcePatternType.PREFIXED if acl.prefixed else ResourcePatternType.LITERAL
    return AclBinding(
        ResourceType[acl.resource],
        acl.name,
        pattern,
        f"User:{acl.principal}",
        "*",
        AclOperation[acl.operation],
        AclPermissionType.ALLOW,
    )


def _acl(binding: AclBinding) -> Acl | None:
    """The binding as planned ACLs are; None for a kind this module never makes (a DENY,
    one host only, a principal of another type): those are reported as they are."""
    kind, _, principal = binding.principal.partition(":")
    if (
        binding.permission_type != AclPermissionType.ALLOW
        or binding.host != "*"
        or kind != "User"
        or binding.resource_pattern_type
        not in (ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED)
    ):
        return None
    return Acl(
        principal,
        binding.operation.name,
        binding.restype.name,
        binding.name,
        binding.resource_pattern_type == ResourcePatternType.PREFIXED,
    )


class BrokerAdmin:
    def __init__(self, settings: HubSettings, timeout: float = 30.0) -> None:
        self.settings, self.timeout = settings, timeout
        self.where = settings.bootstrap_servers
        # librdkafka's own error lines (a refused connection every few milliseconds) say
        # less than the explanation a failure gets here.
        self.admin = AdminClient(admin_config(settings) | {"log_level": 2})

    def _unreachable(self, error: Exception) -> BrokerAdminError:
        reason = asyncio.run(explain_connect_failure(self.settings.kafka_options()))
        return BrokerAdminError(f"cannot reach the broker: {reason} ({error})")

    def _result(self, future: Future, what: str):
        try:
            return future.result(timeout=self.timeout)
        except KafkaException as error:
            raise BrokerAdminError(
                f"{what} at {self.where} failed: {error.args[0].str()}"
            ) from None
        except TimeoutError:
            raise BrokerAdminError(
                f"{what}: no answer from {self.where} in {self.timeout:.0f} s "
                "(is the broker there, and are the connection settings right?)"
            ) from None

    def current(self) -> tuple[Current, list[AclBinding]]:
        """What the broker holds, and the bindings of kinds this module never makes."""
        try:
            metadata = self.admin.list_topics(timeout=CONNECT_TIMEOUT_SECONDS)
        except KafkaException as error:
            raise self._unreachable(error) from None
        topics = {
            name: (len(t.partitions), len(t.partitions[0].replicas) if t.partitions else 0)
            for name, t in metadata.topics.items()
            if not name.startswith("__")
        }
        described = self._result(
            self.admin.describe_user_scram_credentials(), "listing SCRAM users"
        )
        # A user without a SCRAM-SHA-512 credential is one to create (which adds it).
        users = {
            user
            for user, description in described.items()
            if any(
                info.mechanism == ScramMechanism.SCRAM_SHA_512
                for info in description.scram_credential_infos
            )
        }
        everything = AclBindingFilter(
            ResourceType.ANY,
            None,
            ResourcePatternType.ANY,
            None,
            None,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        acls, foreign = set(), []
        for binding in self._result(self.admin.describe_acls(everything), "listing ACLs"):
            acl = _acl(binding)
            if acl is None:
                foreign.append(binding)
            else:
                acls.add(acl)
        return Current(topics, frozenset(users), frozenset(acls)), foreign

    def apply(
        self, plan: Plan, password_of: Callable[[str], bytes], progress: Callable[[str], None]
    ) -> None:
        if plan.topics:
            new = [
                NewTopic(t.name, t.partitions, t.replicas, config=dict(t.configs))
                for t in plan.topics
            ]
            for name, future in self.admin.create_topics(new).items():
                try:
                    future.result(timeout=self.timeout)
                except KafkaException as error:
                    # Made meanwhile, by a worker or another run: there, as planned.
                    if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise BrokerAdminError(
                            f"creating topic {name} at {self.where} failed: {error.args[0].str()}"
                        ) from None
            progress(f"provision: {len(new)} topics created")
        if plan.users:
            info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
            upserts = [UserScramCredentialUpsertion(u, info, password_of(u)) for u in plan.users]
            for user, future in self.admin.alter_user_scram_credentials(upserts).items():
                self._result(future, f"creating SCRAM user {user}")
            progress(f"provision: {len(upserts)} users created")
        if plan.acls:
            for binding, future in self.admin.create_acls(
                [_binding(acl) for acl in plan.acls]
            ).items():
                self._result(future, f"creating ACL {binding}")
            progress(f"provision: {len(plan.acls)} ACLs created")

    def wait_applied(self, plan: Plan) -> None:
        """Wait until the broker shows what plan created: the broker answers once the
        controller has it, and its own view (which the authorizer checks) follows soon
        after. Then a client, or the next run, finds it in force."""
        deadline = time.monotonic() + self.timeout
        while True:
            current, _ = self.current()
            missing = [t.name for t in plan.topics if t.name not in current.topics]
            missing += [u for u in plan.users if u not in current.users]
            missing += [a.detail() for a in plan.acls if a not in current.acls]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise BrokerAdminError(
                    f"the broker at {self.where} does not show {len(missing)} of the changes "
                    f"after {self.timeout:.0f} s, e.g. {missing[0]}"
                )
            time.sleep(0.2)
