"""Access control on a real broker run the way `thbdb up --secure` runs it: SASL/SCRAM,
one principal per country and one for the pipeline, ACLs under the StandardAuthorizer.

Serbia (principal ``rs``) may write its own topic and nothing else: it is refused writing
to Kosovo's topic and reading any topic, its own included. The pipeline reads every
topic and cannot write one. A wrong password or no credentials get nothing.

The broker here is started alone (no Airflow) under its own home and ports, through the
same functions `thbdb up` calls, so it can run beside the session's open stack.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from config.settings import Settings, country_topic
from pipeline import kafka_security
from pipeline.drain import drain_country
from producers.publisher import EventPublisher, PublishFailed
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import THBDB, Stack
from tests.stack.test_quarantine import _events
from thbdb import cluster, kafka_broker
from thbdb.stack import free_port as _free_port
from transforms.events import VictimEvent

pytestmark = pytest.mark.stack


# One broker as `thbdb up --secure` runs it, and the three of `thbdb up --cluster --secure`
# (every node's listeners SASL_SSL, the nodes signing in to each other as admin).
@pytest.fixture(scope="module", params=["one broker", "cluster"])
def secure(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("thbdb-secure-home")
    settings = Settings(home=home, kafka_port=_free_port(), kafka_controller_port=_free_port(), kafka_secure=True)
    if request.param == "cluster":
        settings = cluster.ensure_layout(settings)
    kafka_broker.start_broker(settings, timeout=240)
    try:
        kafka_broker.ensure_topics(settings)
        yield settings
    finally:
        kafka_broker.stop_broker(settings)


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THBDB_", "AIRFLOW"))}
    env.update({"THBDB_HOME": str(settings.home), "THBDB_KAFKA_PORT": str(settings.kafka_port)})
    env["THBDB_ACCOUNTS"] = "off"  # this test plays each principal itself, as root
    env["THBDB_KAFKA_CONTROLLER_PORT"] = str(settings.kafka_controller_port)
    env.update({**extra, "COLUMNS": "200"})
    return env


def _event(country: str, index: int = 0) -> VictimEvent:
    return VictimEvent.model_validate(_events(country, index + 1)[index])


def _publish(settings: Settings, principal: str, country: str, security: dict[str, str] | None = None) -> int:
    config = kafka_security.client_config(settings, principal) if security is None else security
    publisher = EventPublisher(settings.kafka_bootstrap, country_topic(country), 30_000, config)
    return publisher.publish([_event(country)])


def _read(settings: Settings, principal: str, country: str) -> tuple[int, list[str]]:
    """Messages read and errors met reading a country's topic from the start."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": kafka_security.PIPELINE_GROUP,
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "log_level": 0,
            **kafka_security.client_config(settings, principal),
        }
    )
    topic = country_topic(country)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.topic_partitions)])
    read, errors, ended = 0, [], set()
    for _ in range(10):
        for message in consumer.consume(100, timeout=2):
            error = message.error()
            if error is None:
                read += 1
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition())
            else:
                errors.append(error.str())
        if errors or len(ended) == settings.topic_partitions:
            break
    consumer.close()
    return read, errors


def test_credentials_are_owner_only_files(secure: Settings) -> None:
    # Each principal's password where only its own account reads it: a country's in its
    # folder, the pipeline's in the hub's, the admin's under keys/kafka/.
    files = [kafka_security.password_file(secure, p) for p in kafka_security.principals()]
    assert files[0].parent == kafka_security.credentials_dir(secure)
    assert kafka_security.password_file(secure, "rs").parent == secure.country_keys_dir("RS")
    node_dirs = [kafka_broker.node_dir(secure, node) for node in secure.kafka_nodes]
    for path in [*files, *(folder / "server.properties" for folder in node_dirs)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.parent in node_dirs or stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path


def test_serbia_writes_its_own_topic_only_and_reads_none(secure: Settings) -> None:
    assert _publish(secure, "rs", "RS") == 1
    with pytest.raises(PublishFailed, match="authorization failed"):
        _publish(secure, "rs", "XK")
    for country in ("RS", "XK", "AL"):
        read, errors = _read(secure, "rs", country)
        assert read == 0 and any("authorization failed" in e.lower() for e in errors), (country, errors)


def test_the_pipeline_reads_every_topic_and_writes_none(secure: Settings) -> None:
    assert _publish(secure, "xk", "XK") == 1
    assert _read(secure, "pipeline", "XK") == (1, [])
    # Refused at once: the pipeline may not even obtain an idempotent producer id (the
    # client raises this fatal error from inside a callback, so the reason may be lost).
    with pytest.raises(PublishFailed, match=r"authorization failed|refused this producer"):
        _publish(secure, "pipeline", "XK")
    assert _read(secure, "pipeline", "XK") == (1, [])  # nothing of the pipeline's was written
    # The pipeline's own drain authenticates as `pipeline` and loads what Kosovo wrote.
    report = drain_country(secure, "XK")
    assert (report.read, report.loaded) == (1, 1)


def test_a_wrong_password_or_no_credentials_get_nothing(secure: Settings) -> None:
    wrong = {**kafka_security.client_config(secure, "rs"), "sasl.password": "not-the-password"}
    with pytest.raises(PublishFailed, match="Authentication failed"):
        _publish(secure, "rs", "RS", security=wrong)
    open_client = secure.model_copy(update={"kafka_secure": False})
    with pytest.raises(PublishFailed):  # plaintext on a SASL listener: never acknowledged
        EventPublisher(open_client.kafka_bootstrap, country_topic("RS"), 5_000).publish([_event("RS")])


def test_thbdb_produce_as_serbia_is_refused_on_kosovos_topic(secure: Settings, tmp_path: Path) -> None:
    profiles = [VictimProfile(f"RS-ACL-{i}", date(2023, 3, 3), "F", 22, "RS", ["labour"]) for i in range(3)]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("RS", profiles, 4))
    password_file = kafka_security.password_file(secure, "rs")
    as_serbia = {"THBDB_KAFKA_SASL_USERNAME": "rs", "THBDB_KAFKA_SASL_PASSWORD_FILE": str(password_file)}

    def produce(country: str) -> subprocess.CompletedProcess[str]:
        command = [THBDB, "produce", "--country", country, "--input", str(export), "--create-key"]
        return subprocess.run(command, env=_env(secure, **as_serbia), capture_output=True, text=True, timeout=300)

    own = produce("RS")
    assert own.returncode == 0, own.stderr
    assert "3 rows published" in own.stdout
    other = produce("XK")
    assert other.returncode == 2
    assert "authorization failed" in other.stderr.lower()
    assert "Traceback" not in other.stderr
    secret = password_file.read_text().strip()
    logs = b"".join(p.read_bytes() for p in secure.logs_dir.glob("*.log"))
    assert secret not in own.stdout + own.stderr + other.stdout + other.stderr
    assert secret.encode() not in logs


def test_airflow_gives_a_token_to_the_hubs_login_only(stack: Stack) -> None:
    """No token without credentials (Airflow's all-admins mode is off) nor with a wrong
    password; the hub's own login, in a file only the hub's account reads, gets one."""
    import httpx

    from thbdb import airflow_stack

    base = stack.settings.airflow_url
    assert httpx.get(f"{base}/auth/token", timeout=10).status_code in (401, 403, 405)
    assert httpx.get(f"{base}/api/v2/dags", timeout=10).status_code in (401, 403)
    user, password = airflow_stack.login(stack.settings)
    wrong = httpx.post(f"{base}/auth/token", json={"username": user, "password": password + "x"}, timeout=10)
    assert wrong.status_code in (401, 403)
    right = httpx.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=10)
    assert right.status_code == 201 and right.json()["access_token"]
    passwords = stack.settings.airflow_home / airflow_stack.PASSWORDS
    assert passwords.stat().st_mode & 0o077 == 0


def test_the_secure_broker_speaks_tls_only(secure: Settings) -> None:
    """Events cross borders encrypted: the broker's port is TLS with a certificate the
    hub's CA signed for this address, and a client speaking SASL without TLS gets nowhere."""
    import socket
    import ssl

    from confluent_kafka import Producer

    context = ssl.create_default_context(cafile=str(secure.home / "hub-ca.pem"))
    with socket.create_connection((secure.kafka_host, secure.kafka_nodes[-1].port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=secure.kafka_host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            issuer = dict(pair[0] for pair in tls.getpeercert()["issuer"])  # type: ignore[index, misc]
            assert issuer["commonName"] == "thbdb hub CA"
    config = kafka_security.client_config(secure, "rs")
    assert config["security.protocol"] == "SASL_SSL"
    failures: list[object] = []
    plain = Producer({"bootstrap.servers": secure.kafka_bootstrap, **config, "security.protocol": "SASL_PLAINTEXT",
                      "message.timeout.ms": 5000, "log_level": 0})  # fmt: skip
    plain.produce(country_topic("RS"), b"in clear", on_delivery=lambda error, _message: failures.append(error))
    plain.flush(20)
    assert failures and failures[0] is not None  # never delivered


def test_a_client_that_does_not_trust_the_hubs_ca_gets_nothing(secure: Settings, tmp_path: Path) -> None:
    from confluent_kafka import Producer

    from release import tls

    tls.ensure(tmp_path / "another-hub")  # another CA, as a man in the middle would have
    another = tmp_path / "another-hub" / tls.CA_CERT
    config = {**kafka_security.client_config(secure, "rs"), "ssl.ca.location": str(another)}
    failures: list[object] = []
    producer = Producer({"bootstrap.servers": secure.kafka_bootstrap, **config, "message.timeout.ms": 5000,
                         "log_level": 0})  # fmt: skip
    producer.produce(country_topic("RS"), b"to whom?", on_delivery=lambda error, _message: failures.append(error))
    producer.flush(20)
    assert failures and failures[0] is not None


def test_no_password_is_on_any_command_line(secure: Settings) -> None:
    """/proc/PID/cmdline is every local user's to read: no principal's password is there."""
    passwords = [kafka_security.password(secure, p).encode() for p in kafka_security.principals()]
    seen = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            seen.append(cmdline.read_bytes())
        except OSError:
            continue  # the process ended
    assert any(b"kafka.Kafka" in line for line in seen)  # the broker is among them
    assert not [line[:80] for line in seen for password in passwords if password in line]
