"""Who may do what on the broker: SASL/SCRAM-SHA-512 principals and their ACLs.

One principal per country (``al`` … ``xk``) may write its own topic and read none; the
``pipeline`` principal may read every country topic, write none, and delete what it
loaded; ``eraser`` (the release service's) may do the same and append empty clock
ticks to every country topic; ``admin`` is the
broker's own identity (inter-broker traffic, topic and ACL creation). With the
StandardAuthorizer and ``allow.everyone.if.no.acl.found=false`` anything not granted
here is refused.

The embedded broker runs this way with ``thbdb up --secure`` (see README, "Faults,
access control and keys"). Passwords are random, one file per principal, owner-only,
where only that principal's account reads it (thbdb/accounts.py): a country's in its own
folder (``country/CC/kafka.password``), the pipeline's and the eraser's in the hub's
(``hub-secrets/``), the broker's admin password under ``keys/kafka/``; the SCRAM
credentials are written through the admin API (``ensure_scram``), never on a command line.
A real deployment gives each country only its own password file and sets
``THBDB_KAFKA_SASL_USERNAME`` and ``THBDB_KAFKA_SASL_PASSWORD_FILE``.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

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
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from config.cluster_layout import BrokerNode
from config.settings import COUNTRIES, Settings, country_topic

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
PIPELINE = "pipeline"
# The release service's principal on the broker: before an erasure it loads what waits
# in the topic, after it trims the topic, and it appends the clock's empty ticks
# (pipeline/kafka_retention.py). The hub runs the broker, so this grants it nothing it could
# not do already.
ERASER = "eraser"
PIPELINE_GROUP = "thbdb-pipeline"
TOPIC_PREFIX = "thbdb.events."


class CredentialsMissing(RuntimeError):
    """A principal's password file is not where settings say it is."""


def country_principal(country: str) -> str:
    return country.lower()


def principals() -> list[str]:
    return [ADMIN, PIPELINE, ERASER, *(country_principal(c) for c in COUNTRIES)]


def credentials_dir(settings: Settings) -> Path:
    return settings.keys_dir / "kafka"


def password_file(settings: Settings, principal: str) -> Path:
    countries = {country_principal(c): c for c in COUNTRIES}
    if principal in countries:
        path = settings.country_keys_dir(countries[principal]) / "kafka.password"
    elif principal in (PIPELINE, ERASER):
        path = settings.hub_secrets_dir / f"{principal}.password"
    else:
        return credentials_dir(settings) / f"{principal}.password"
    old = credentials_dir(settings) / f"{principal}.password"  # homes made before: moved, not replaced
    if not path.exists() and old.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(old, path)
    return path


def ensure_credentials(settings: Settings) -> None:
    """Create a random password for every principal that has none (owner-only files)."""
    directory = credentials_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    for principal in principals():
        path = password_file(settings, principal)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists():
            continue
        # URL-safe characters only: the value goes into JAAS syntax unquoted.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")


def password(settings: Settings, principal: str) -> str:
    path = password_file(settings, principal)
    if settings.kafka_sasl_password_file and principal == settings.kafka_sasl_username:
        path = settings.kafka_sasl_password_file
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        raise CredentialsMissing(f"no Kafka password for principal {principal!r} at {path}") from None


def client_config(settings: Settings, principal: str) -> dict[str, str]:
    """librdkafka settings for connecting as ``principal``; empty on an open broker.

    ``THBDB_KAFKA_SASL_USERNAME`` overrides the principal: on a country's machine or in
    the deployed pipeline there is exactly one identity, the one whose password is there.
    """
    if not settings.kafka_secure:
        return {}
    name = settings.kafka_sasl_username or principal
    return {
        # TLS under SASL: pseudonyms, ages and linkage encodings cross borders encrypted,
        # to a broker whose certificate the hub's CA signed (hub-ca.pem, public).
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(settings.hub_ca_file),
        # The broker's own identity signs in with PLAIN against its server.properties (so
        # that SCRAM credentials need not exist before the broker runs); everyone else SCRAM.
        "sasl.mechanism": "PLAIN" if name == ADMIN else MECHANISM,
        "sasl.username": name,
        "sasl.password": password(settings, name),
    }


def ensure_scram(settings: Settings, client: AdminClient, timeout: float = 60.0) -> None:
    """Every principal's SCRAM credential, written through the admin API over TLS once
    the broker runs (never on a command line, where /proc would show it); idempotent."""
    if not settings.kafka_secure or settings.external_kafka:
        return
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            principal, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password(settings, principal).encode()
        )
        for principal in principals()
        if principal != ADMIN
    ]
    for user, future in client.alter_user_scram_credentials(upserts, request_timeout=timeout).items():
        try:
            future.result()
        except Exception as error:
            raise RuntimeError(f"could not write the SCRAM credential of {user}: {error}") from error


def broker_properties(settings: Settings, node: BrokerNode) -> list[str]:
    """server.properties lines of a broker that authenticates and authorises everyone.

    Clients use SCRAM on the broker listener. The controller listener (the broker talking
    to its own KRaft controller) uses SASL/PLAIN with the admin identity, because SCRAM
    credentials live in the metadata the controller serves and cannot authenticate it.
    """
    host = settings.kafka_host
    admin_password = password(settings, ADMIN)
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
        f' username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";'
    )
    keystore, truststore = broker_tls(settings)
    return [
        f"listeners=SASL_SSL://{host}:{node.port},CONTROLLER://{host}:{node.controller_port}",
        f"advertised.listeners=SASL_SSL://{host}:{node.port}",
        # Every connection is TLS, the broker's own to its controller included.
        "listener.security.protocol.map=CONTROLLER:SASL_SSL,SASL_SSL:SASL_SSL",
        "inter.broker.listener.name=SASL_SSL",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={truststore}",
        "ssl.endpoint.identification.algorithm=https",
        f"sasl.enabled.mechanisms={MECHANISM},PLAIN",
        # The broker's own traffic signs in as admin with PLAIN, whose only user is admin
        # (server.properties, 0600): SCRAM credentials are written after it starts.
        "sasl.mechanism.inter.broker.protocol=PLAIN",
        f"listener.name.sasl_ssl.sasl.enabled.mechanisms={MECHANISM},PLAIN",
        f"listener.name.sasl_ssl.plain.sasl.jaas.config={plain}",
        # SCRAM's server side reads its credentials from the metadata; its JAAS entry is bare.
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={plain}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{ADMIN}",
    ]


def broker_tls(settings: Settings) -> tuple[Path, Path]:
    """The broker's key and certificate (one PEM file, 0600, the hub's) signed by the
    hub's CA, and the CA's certificate, published for clients at ``hub-ca.pem``."""
    from release import tls

    tls.ensure(settings.hub_secrets_dir, settings.hub_names)
    keystore = tls.ensure_server(settings.hub_secrets_dir, "kafka-broker", (settings.kafka_host, *settings.hub_names))
    tls.publish_ca(settings.hub_secrets_dir, settings.home / "hub-ca.pem")
    return keystore, settings.home / "hub-ca.pem"


def acl_bindings() -> list[AclBinding]:
    """Every grant there is: each country writes its own topic; the pipeline reads all,
    and deletes what it loaded (pipeline/kafka_retention.py); the eraser (the release
    service) does the same around an erasure, and appends the clock's empty ticks."""

    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED

    def allow(who: str, kind: ResourceType, name: str, pattern: ResourcePatternType, op: AclOperation) -> AclBinding:
        return AclBinding(kind, name, pattern, f"User:{who}", "*", op, AclPermissionType.ALLOW)

    bindings = []
    for country in COUNTRIES:
        principal = country_principal(country)
        for op in (AclOperation.WRITE, AclOperation.DESCRIBE):
            bindings.append(allow(principal, ResourceType.TOPIC, country_topic(country), literal, op))
    # Both hub principals read and trim what the hub loaded; the eraser also appends the
    # clock's empty ticks.
    for who, ops in ((PIPELINE, ()), (ERASER, (AclOperation.WRITE,))):
        for op in (AclOperation.READ, AclOperation.DELETE, AclOperation.DESCRIBE, *ops):
            bindings.append(allow(who, ResourceType.TOPIC, TOPIC_PREFIX, prefixed, op))
        bindings.append(allow(who, ResourceType.GROUP, PIPELINE_GROUP, literal, AclOperation.READ))
    return bindings


def ensure_acls(settings: Settings, client: AdminClient, timeout: float = 60.0) -> None:
    """Create the grants (creating an existing binding changes nothing).

    Only on the embedded broker: a real deployment's ACLs are its administrators' (the
    client here may be the pipeline, which may not create any).
    """
    if not settings.kafka_secure or settings.external_kafka:
        return
    wanted = acl_bindings()
    for binding, future in client.create_acls(wanted, request_timeout=30).items():
        try:
            future.result()
        except Exception as error:
            raise RuntimeError(f"could not create the Kafka ACL {binding}: {error}") from error
    # Created is not yet applied: wait until the broker's authorizer lists every grant,
    # so a client starting right after `up` is not refused what it may do.
    anything: str = None  # type: ignore[assignment]  # None matches any name, principal, host
    every = AclBindingFilter(
        ResourceType.ANY, anything, ResourcePatternType.ANY, anything, anything, AclOperation.ANY, AclPermissionType.ANY
    )
    deadline = time.monotonic() + timeout
    while True:
        listed = set(client.describe_acls(every, request_timeout=10).result())
        if all(binding in listed for binding in wanted):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the broker did not apply its ACLs within {timeout:.0f} s")
        time.sleep(0.5)
