"""The grants and client settings of the secure broker, read without a broker (the real
broker refusing and allowing is tests/stack/test_access_control.py)."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from config.settings import COUNTRIES, SECURE_MARKER, Settings, country_topic
from pipeline import kafka_security


def test_each_country_may_write_only_its_topic_and_the_hub_only_read_and_trim() -> None:
    grants = {
        (b.principal, b.restype, b.name, b.resource_pattern_type, b.operation) for b in kafka_security.acl_bindings()
    }
    for country in COUNTRIES:
        user = f"User:{country.lower()}"
        mine = {(g[1], g[2], g[3], g[4]) for g in grants if g[0] == user}
        topic = country_topic(country)
        assert mine == {
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.WRITE),
            (ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, AclOperation.DESCRIBE),
        }
    # The pipeline reads, and deletes what it loaded (pipeline/kafka_retention.py); it never
    # writes. The release service's eraser also appends the clock's empty ticks.
    pipeline = {g[4] for g in grants if g[0] == "User:pipeline" and g[1] == ResourceType.TOPIC}
    assert pipeline == {AclOperation.READ, AclOperation.DELETE, AclOperation.DESCRIBE}
    eraser = {g[4] for g in grants if g[0] == "User:eraser" and g[1] == ResourceType.TOPIC}
    assert eraser == {AclOperation.READ, AclOperation.DELETE, AclOperation.DESCRIBE, AclOperation.WRITE}
    assert not any(g[0] == "User:admin" for g in grants)  # the super user needs no grant


def test_the_secure_broker_has_no_open_listener_and_refuses_what_is_not_granted(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka_secure=True)
    kafka_security.ensure_credentials(settings)
    lines = kafka_security.broker_properties(settings, settings.kafka_nodes[0])
    text = "\n".join(lines)
    assert "PLAINTEXT" not in text  # every listener TLS, none SASL_PLAINTEXT
    assert "listener.security.protocol.map=CONTROLLER:SASL_SSL,SASL_SSL:SASL_SSL" in lines
    assert (settings.home / "hub-ca.pem").stat().st_mode & 0o777 == 0o644  # the CA clients trust: public
    assert "allow.everyone.if.no.acl.found=false" in lines
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in lines


def test_clients_authenticate_only_on_a_secure_home(tmp_path: Path) -> None:
    open_home = Settings.from_env({"THBDB_HOME": str(tmp_path / "open")})
    assert kafka_security.client_config(open_home, "rs") == {}

    secure = Settings.from_env({"THBDB_HOME": str(tmp_path / "secure"), "THBDB_KAFKA_SECURE": "1"})
    kafka_security.ensure_credentials(secure)
    config = kafka_security.client_config(secure, "rs")
    assert config["sasl.username"] == "rs" and config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["security.protocol"] == "SASL_SSL" and config["ssl.ca.location"].endswith("hub-ca.pem")
    assert config["sasl.password"] == kafka_security.password_file(secure, "rs").read_text().strip()
    assert Settings.from_env(secure.to_env()).kafka_secure  # an Airflow task inherits it

    # A home whose broker was formatted with credentials stays secure without the flag.
    secure.kafka_dir.mkdir(parents=True)
    (secure.kafka_dir / SECURE_MARKER).write_text("scram\n")
    assert Settings.from_env({"THBDB_HOME": str(secure.home)}).kafka_secure


def test_one_identity_per_machine_overrides_the_principal(tmp_path: Path) -> None:
    password = tmp_path / "rs.password"
    password.write_text("from-the-secret-store\n")
    env = {
        "THBDB_HOME": str(tmp_path),
        "THBDB_KAFKA_SASL_USERNAME": "rs",
        "THBDB_KAFKA_SASL_PASSWORD_FILE": str(password),
    }
    settings = Settings.from_env(env)
    config = kafka_security.client_config(settings, "xk")  # asked as XK: still connects as rs
    assert (config["sasl.username"], config["sasl.password"]) == ("rs", "from-the-secret-store")
