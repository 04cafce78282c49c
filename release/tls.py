"""The hub's TLS: a certificate authority of its own and the release service's certificate.

``thbdb up`` makes them once. The CA's key and the service's key stay in the hub's
secrets folder (0600). The CA's certificate is public: ``thbdb up`` copies it
to ``$THBDB_HOME/hub-ca.pem`` (0644), and it is what a client trusts (``THBDB_HUB_CA``); the
hub's administrator hands it to remote analysts and officers with their token.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_KEY = "hub-ca.key"
CA_CERT = "hub-ca.pem"
SERVER_KEY = "hub-service.key"
SERVER_CERT = "hub-service.pem"
VALID_DAYS = 825


def _write(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)  # the umask may have taken bits away
    os.replace(temporary, path)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "thbdb hub"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])  # fmt: skip


def ensure(secrets_dir: Path, hosts: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """The service's certificate and key, made (with the CA) if absent; returns their paths.
    The CA's certificate is beside them; ``thbdb up`` publishes a copy (release/process.py)."""
    cert_path, key_path, ca_file = secrets_dir / SERVER_CERT, secrets_dir / SERVER_KEY, secrets_dir / CA_CERT
    if cert_path.exists() and key_path.exists() and ca_file.exists():
        return cert_path, key_path
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("thbdb hub CA"))
        .issuer_name(_name("thbdb hub CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("thbdb release service"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = serialization.Encoding.PEM
    private = serialization.PrivateFormat.PKCS8
    _write(secrets_dir / CA_KEY, ca_key.private_bytes(pem, private, serialization.NoEncryption()), 0o600)
    _write(key_path, server_key.private_bytes(pem, private, serialization.NoEncryption()), 0o600)
    _write(cert_path, server_cert.public_bytes(pem), 0o600)
    _write(ca_file, ca_cert.public_bytes(pem), 0o600)
    return cert_path, key_path


def publish_ca(secrets_dir: Path, target: Path) -> None:
    """Copy the CA's certificate, which is public, to ``target`` (0644), for clients."""
    _write(target, (secrets_dir / CA_CERT).read_bytes(), 0o644)
