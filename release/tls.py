"""The hub's TLS: a certificate authority of its own and the release service's certificate.

``thbdb up`` makes them once. The CA's key and the service's key stay in the hub's
secrets folder (0600). The CA's certificate is public: ``thbdb up`` copies it
to ``$THBDB_HOME/hub-ca.pem`` (0644), and it is what a client trusts (``THBDB_HUB_CA``); the
hub's administrator hands it to remote analysts and officers with their token.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from release.files import replace_file

CA_KEY = "hub-ca.key"
CA_CERT = "hub-ca.pem"
SERVER_KEY = "hub-service.key"
SERVER_CERT = "hub-service.pem"
VALID_DAYS = 825
PEM = serialization.Encoding.PEM
PKCS8 = serialization.PrivateFormat.PKCS8


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "thbdb hub"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])  # fmt: skip


def _ensure_ca(secrets_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The hub's CA, made once: its key and certificate in the hub's secrets folder."""
    key_path, cert_path = secrets_dir / CA_KEY, secrets_dir / CA_CERT
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
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
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_file(key_path, ca_key.private_bytes(PEM, PKCS8, serialization.NoEncryption()), 0o600)
    replace_file(cert_path, ca_cert.public_bytes(PEM), 0o600)
    return ca_key, ca_cert


def _issue(secrets_dir: Path, common: str, hosts: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A new server key and its certificate for loopback and ``hosts``, signed by the CA (PEM)."""
    ca_key, ca_cert = _ensure_ca(secrets_dir)
    now = datetime.now(UTC)
    server_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return server_key.private_bytes(PEM, PKCS8, serialization.NoEncryption()), server_cert.public_bytes(PEM)


def ensure(secrets_dir: Path, hosts: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """The release service's certificate and key, made (with the CA) if absent."""
    cert_path, key_path = secrets_dir / SERVER_CERT, secrets_dir / SERVER_KEY
    if cert_path.exists() and key_path.exists() and (secrets_dir / CA_CERT).exists():
        return cert_path, key_path
    key, cert = _issue(secrets_dir, "thbdb release service", hosts)
    replace_file(key_path, key, 0o600)
    replace_file(cert_path, cert, 0o600)
    return cert_path, key_path


def ensure_server(secrets_dir: Path, name: str, hosts: tuple[str, ...] = ()) -> Path:
    """One PEM file holding a server's key and certificate (a Kafka broker's keystore)."""
    path = secrets_dir / f"{name}.pem"
    if not path.exists():
        key, cert = _issue(secrets_dir, f"thbdb {name}", hosts)
        replace_file(path, key + cert, 0o600)
    return path


def publish_ca(secrets_dir: Path, target: Path) -> None:
    """Copy the CA's certificate, which is public, to ``target`` (0644), for clients."""
    replace_file(target, (secrets_dir / CA_CERT).read_bytes(), 0o644)
