"""Certificates of a secured local broker, made for its data folder: a CA of its own and the
broker's certificate, for 127.0.0.1 and localhost.

Clients trust ca.pem. The CA's key signs the broker's certificate and is then thrown away:
no other certificate can be made under this CA. The broker also shows its certificate as a
client, to its own controller listener, which takes no other.
"""

import datetime
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pelastus_hub.tools.private_file import write_private

BROKER_COMMON_NAME = "pelastus-hub-local-broker"
# The principal Kafka's SSL listener gives the broker: its certificate's subject.
BROKER_PRINCIPAL = f"User:CN={BROKER_COMMON_NAME}"
VALID_DAYS = 365


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """Write ca.pem (the CA certificate) and broker.pem (the broker's key, then its
    certificate) into folder; returns their paths."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    # Valid from a minute ago: a client whose clock is a little behind still accepts it.
    not_before, not_after = (
        now - datetime.timedelta(minutes=1),
        now + datetime.timedelta(VALID_DAYS),
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("pelastus-hub local CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker = (
        x509.CertificateBuilder()
        .subject_name(_name(BROKER_COMMON_NAME))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, broker_file = folder / "ca.pem", folder / "broker.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    # Kafka's PEM key store: an unencrypted PKCS#8 key, then the chain from the broker up.
    key = broker_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(broker_file, key + broker.public_bytes(pem) + ca.public_bytes(pem))
    return ca_file, broker_file
