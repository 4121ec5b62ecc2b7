"""Where the hub's Kafka clients are made: one place that knows the connection.

Every part that talks to Kafka is handed a KafkaClients and asks it for the client it
needs, with that client's own settings; the connection options (HubSettings.kafka_options)
are merged in here. A test hands in a stand-in instead, and no part makes a client of
its own. When a connection fails, explain_connect_failure tries it step by step, with
connections of its own, to say why.
"""

import asyncio
import contextlib
import ssl
from typing import Any, Self

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, SaslAuthenticationFailed

from pelastus_hub.settings import HubSettings


class KafkaClients:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_settings(cls, settings: HubSettings) -> Self:
        return cls(settings.kafka_options())

    def producer(self, **config: Any) -> AIOKafkaProducer:
        return AIOKafkaProducer(**self.options | config)

    def consumer(self, *topics: str, **config: Any) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(*topics, **self.options | config)

    def admin(self, **config: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**self.options | config)

    def client(self, **config: Any) -> AIOKafkaClient:
        """The bare client: cluster metadata, nothing else."""
        return AIOKafkaClient(**self.options | config)


class RenewableProducer:
    """An idempotent producer that makes way for a new one once a batch it sent failed.

    aiokafka numbers each batch of a partition when it first sends it. A batch that then
    fails for good (refused by the brokers, or expired without a leader in an outage)
    leaves a gap in the numbers that the brokers never see filled, so every later batch
    to that partition fails with OutOfOrderSequenceNumber. A new producer gets a new
    producer id and numbers from zero again: after failed(), ready() makes one.
    """

    def __init__(self, clients: KafkaClients, what: str, **config: Any) -> None:
        """`what` finishes "cannot connect ..." (start_or_explain); `config` is the
        producer's, with idempotence always on."""
        self.clients, self.what = clients, what
        self.config = config | {"enable_idempotence": True}
        self.current: AIOKafkaProducer | None = None
        self._stale = False
        self._renewing = asyncio.Lock()

    async def start(self) -> None:
        producer = self.clients.producer(**self.config)
        await start_or_explain(producer, self.clients, self.what)
        self.current, self._stale = producer, False

    async def stop(self) -> None:
        """Send what is pending and disconnect."""
        producer, self.current = self.current, None
        if producer is not None:
            await producer.stop()

    def failed(self, producer: AIOKafkaProducer) -> None:
        """A batch that `producer` sent has failed: the next ready() replaces it."""
        if producer is self.current:
            self._stale = True

    async def ready(self) -> AIOKafkaProducer:
        """The producer to send with, a new one if the current one's batch failed. Raises
        aiokafka's error (retriable: KafkaConnectionError) when a new one cannot connect;
        the next call tries again."""
        if self.current is None:
            raise RuntimeError("the producer is not started")
        if self._stale:
            async with self._renewing:  # concurrent senders make one new producer
                if self._stale:
                    fresh = self.clients.producer(**self.config)
                    try:
                        await fresh.start()
                    except BaseException:
                        await fresh.stop()
                        raise
                    old, self.current, self._stale = self.current, fresh, False
                    if old is None:  # stop() came while the new one connected
                        self.current = None
                        await fresh.stop()
                        raise RuntimeError("the producer was stopped")
                    await old.stop()
        return self.current


class ConnectFailed(ConnectionError):
    """No connection to the brokers; the message says why, as far as it can be told."""


def host_and_port(server: str) -> tuple[str, int]:
    """A bootstrap server's host and port, as Kafka's clients read it: the port 9092 if
    none is given, an IPv6 address in brackets."""
    host, colon, port = server.rpartition(":")
    if not colon or host.startswith("[") != host.endswith("]") or "]" in port:
        host, port = server, "9092"
    return host.strip("[]"), int(port)


async def start_or_explain(client: Any, clients: KafkaClients, what: str) -> None:
    """Start an aiokafka client that clients made; ConnectFailed with the reason if it
    cannot connect."""
    try:
        await client.start()
    except KafkaConnectionError as error:
        await client.stop()  # a failed start leaves connections open otherwise
        reason = await explain_connect_failure(clients.options)
        raise ConnectFailed(f"cannot connect {what}: {reason}") from error
    except BaseException:
        await client.stop()
        raise


async def _speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake succeeds at this address (the certificate unchecked: this
    only tells what the listener speaks)."""
    probe = ssl.create_default_context()
    probe.check_hostname, probe.verify_mode = False, ssl.CERT_NONE
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(host, port, ssl=probe)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True


async def explain_connect_failure(options: dict[str, Any]) -> str:
    """Why a client with these connection options cannot connect, told as a person would
    fix it: the first bootstrap server is tried step by step (TCP, TLS, login)."""
    server = str(options["bootstrap_servers"]).split(",")[0].strip()
    host, port = host_and_port(server)
    protocol = options.get("security_protocol", "PLAINTEXT")
    tls = protocol in ("SSL", "SASL_SSL")
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(host, port)
        writer.close()
    except (OSError, TimeoutError) as error:
        return f"nothing answers at {server} ({error.__class__.__name__}): is the broker up?"
    if not tls and await _speaks_tls(host, port):
        return (
            f"the broker at {server} takes only TLS connections, and this client connects "
            f"with {protocol}: set PELASTUS_HUB_SECURITY_PROTOCOL=SASL_SSL (or SSL) and "
            "PELASTUS_HUB_SSL_CAFILE to the CA certificate you were given"
        )
    login = {
        key: options[key]
        for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password")
        if key in options
    }
    try:
        connection = await create_conn(
            host,
            port,
            security_protocol=protocol,
            ssl_context=options.get("ssl_context"),
            request_timeout_ms=10_000,
            **login,
        )
    except ssl.SSLCertVerificationError as error:
        return (
            f"the certificate of the broker at {server} is not trusted "
            f"({error.verify_message}): set PELASTUS_HUB_SSL_CAFILE to the CA certificate "
            "you were given"
        )
    except SaslAuthenticationFailed:
        return (
            f"the broker at {server} refused the login of user "
            f"{login.get('sasl_plain_username')!r} ({login.get('sasl_mechanism')}): a wrong "
            "password, or no such user (never provisioned, or removed)"
        )
    except (KafkaError, OSError, TimeoutError) as error:
        return f"connecting to {server} with {protocol} failed: {error}"
    connection.close()
    return f"a connection to {server} with {protocol} works now; it failed a moment ago"
