"""The connection settings: TLS and SASL, and secrets read from files."""

import asyncio
import ssl

import pytest
from cryptography import x509
from pydantic import ValidationError

from pelastus_hub.clients import explain_connect_failure, host_and_port
from pelastus_hub.settings import HubSettings
from pelastus_hub.tools.localkafka.tls import make_certificates
from pelastus_hub.tools.ports import free_ports

SECURED = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "helsinki",
}


def test_a_password_file_is_read_without_its_final_newline(monkeypatch, tmp_path):
    (tmp_path / "password").write_text("s3cret-of-helsinki\n")
    monkeypatch.setenv("PELASTUS_HUB_SASL_PASSWORD_FILE", str(tmp_path / "password"))
    settings = HubSettings(**SECURED)
    assert settings.sasl_password.get_secret_value() == "s3cret-of-helsinki"
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert settings.kafka_options()["sasl_plain_password"] == "s3cret-of-helsinki"


def test_a_secret_given_twice_missing_or_empty_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PELASTUS_HUB_API_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="PELASTUS_HUB_API_TOKEN_FILE: cannot read"):
        HubSettings()
    (tmp_path / "token").write_text("abc")
    monkeypatch.setenv("PELASTUS_HUB_API_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("PELASTUS_HUB_API_TOKEN", "abc")
    with pytest.raises(ValueError, match="not both"):
        HubSettings()
    monkeypatch.delenv("PELASTUS_HUB_API_TOKEN")
    (tmp_path / "token").write_text("\n")
    with pytest.raises(ValidationError, match=r"api_token\n.*is empty"):
        HubSettings()
    (tmp_path / "token").write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        HubSettings()


def test_an_empty_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv("PELASTUS_HUB_SASL_MECHANISM", "")
    assert HubSettings().sasl_mechanism is None


def test_an_incomplete_connection_is_refused():
    with pytest.raises(
        ValidationError,
        match="PELASTUS_HUB_SECURITY_PROTOCOL=SASL_SSL needs PELASTUS_HUB_SASL_MECHANISM",
    ):
        HubSettings(security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="use SASL_SSL"):
        HubSettings(sasl_mechanism="SCRAM-SHA-512")
    with pytest.raises(
        ValidationError, match="PELASTUS_HUB_SSL_CERTFILE and PELASTUS_HUB_SSL_KEYFILE together"
    ):
        HubSettings(security_protocol="SSL", ssl_certfile="client.pem")
    # The login is checked where a client connects: the simulator sets it per department.
    with pytest.raises(ValueError, match="needs PELASTUS_HUB_SASL_USERNAME"):
        HubSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512").kafka_options()


def test_tls_checks_the_broker_against_the_given_ca(tmp_path):
    ca_file, _ = make_certificates(tmp_path)
    settings = HubSettings(**SECURED, sasl_password="pw", ssl_cafile=ca_file)
    context = settings.kafka_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "pelastus-hub local CA"),),)
    ]
    assert "ssl_context" not in HubSettings().kafka_options()


def test_broker_certificates_are_for_loopback_and_the_key_is_private(tmp_path):
    ca_file, broker_file = make_certificates(tmp_path)
    assert broker_file.stat().st_mode & 0o777 == 0o600
    pem = broker_file.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    broker, ca = x509.load_pem_x509_certificates(pem)
    assert ca.subject == x509.load_pem_x509_certificate(ca_file.read_bytes()).subject
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    broker.verify_directly_issued_by(ca)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("kafka1.example.fi:9093", ("kafka1.example.fi", 9093)),
        ("kafka1", ("kafka1", 9092)),
        ("[::1]:9094", ("::1", 9094)),
        ("[::1]", ("::1", 9092)),
    ],
)
def test_a_bootstrap_server_reads_as_kafka_reads_it(server, expected):
    assert host_and_port(server) == expected


async def test_a_failed_connection_is_explained_step_by_step(tmp_path):
    (port,) = free_ports(1)
    nobody = await explain_connect_failure({"bootstrap_servers": f"127.0.0.1:{port}"})
    assert nobody.startswith(f"nothing answers at 127.0.0.1:{port}")

    # A listener that speaks only TLS, as the secured broker's does.
    _, broker_file = make_certificates(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(broker_file)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        plaintext = await explain_connect_failure({"bootstrap_servers": address})
        assert "takes only TLS connections, and this client connects with PLAINTEXT" in plaintext
        untrusted = HubSettings(bootstrap_servers=address, security_protocol="SSL").kafka_options()
        assert "is not trusted" in await explain_connect_failure(untrusted)
    finally:
        server.close()
        await server.wait_closed()
