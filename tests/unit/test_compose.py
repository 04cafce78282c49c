"""docker-compose.yml describes the deployed form; no Docker engine runs here, so the
file is checked with `docker compose config` where the plugin exists, else by reading it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import deployed
from config.cluster_layout import BrokerNode, ClusterLayout
from config.settings import Settings
from pipeline import kafka_security
from thbdb import airflow_stack, kafka_broker

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
STATEFUL = {"kafka-1", "kafka-2", "kafka-3", "postgres", "redis", "airflow-scheduler", "airflow-worker"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _has_compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_compose_plugin(), reason="the docker compose plugin is not installed here")
def test_docker_compose_accepts_the_file() -> None:
    env = {"KAFKA_CLUSTER_ID": "test-cluster-id", "PATH": "/usr/bin:/bin"}
    subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"], check=True, env=env)


def test_the_deployed_form_has_kafka_airflow_postgres_and_the_pipeline_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka-1", "kafka-2", "kafka-3", "postgres", "airflow-api-server", "airflow-scheduler"} <= set(services)
    assert services["airflow-scheduler"]["image"] == "thbdb/pipeline:0.1.0"
    assert "postgres" in services["airflow-scheduler"]["depends_on"]


def test_every_service_has_an_image_a_health_check_and_state_on_volumes(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        if name in STATEFUL:
            assert service.get("volumes"), f"{name} keeps state but has no volume"


def test_topics_are_replicated_and_the_broker_is_secured(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka-1"]["environment"]
    assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) >= 3
    assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) >= 2
    assert "SASL" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"


def test_no_secret_is_written_in_clear(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and not key.endswith(("_FILE", "_CMD")):
                assert str(value).startswith("${"), f"{name}: {key} is set in clear"
    for name, secret in compose["secrets"].items():
        assert "file" in secret or "environment" in secret, name
    assert "secrets/" in (COMPOSE.parent / ".gitignore").read_text()


# The deployed form and the cluster profile (`thbdb up --cluster`) hold each other: what
# config/deployed.py lists, the compose file sets and the local cluster runs; what the
# local cluster runs shorter is listed there; nothing else differs unsaid.

KAFKA_SERVICES = ("kafka-1", "kafka-2", "kafka-3")
# The apache/kafka image's variables that are not broker properties: its docker wrapper
# (kafka.docker.KafkaDockerWrapper) leaves them out of server.properties.
NOT_BROKER_PROPERTIES = frozenset(
    {
        "KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME",
    }
)  # fmt: skip
# What makes the broker secure: every listener TLS and authenticated, who signs in how,
# and nothing allowed that is not granted.
SECURITY_PROPERTIES = (
    "process.roles",
    "controller.listener.names",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.mechanism.controller.protocol",
    "listener.name.controller.sasl.enabled.mechanisms",
    "ssl.keystore.type",
    "ssl.truststore.type",
    "ssl.endpoint.identification.algorithm",
    "authorizer.class.name",
    "allow.everyone.if.no.acl.found",
    "super.users",
)
# Broker properties both set that differ by nature, and why.
KAFKA_DIFFER_BY_NATURE = {
    # Addresses: loopback ports of the home's layout here, the services' names there.
    "listeners": "addresses",
    "controller.quorum.voters": "addresses",
    # Paths: the home's folders here, the containers' volumes and secrets there.
    "log.dirs": "paths",
    "ssl.keystore.location": "secrets' locations",
    "ssl.truststore.location": "secrets' locations",
}
# Airflow settings both set that differ by nature, and why.
AIRFLOW_DIFFER_BY_NATURE = {
    # An address: the API server on loopback here, the airflow-api-server service there.
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "address",
}
# Where the cluster profile sets what SHORTER_IN_TESTS lists outside Airflow's settings.
LOCAL_KAFKA_VALUES = {"KAFKA_HEAP_OPTS": kafka_broker._heap}
READS_SECRET = re.compile(r"^cat (?P<folder>\S+)/(?P<name>[^/\s]+)$")
MOUNTED_SECRET = re.compile(r"/run/secrets/([\w.-]+)")


def _kafka_variable(name: str) -> str:
    """A broker property's variable in the apache/kafka image (its wrapper reads '_' as
    '.', '__' as '_' and '___' as '-')."""
    return "KAFKA_" + name.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def _broker_properties(env: dict[str, str]) -> dict[str, str]:
    """The server.properties the apache/kafka image writes from a service's environment."""
    return {
        key.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-").replace("..", "_"): str(value)
        for key, value in env.items()
        if key.startswith("KAFKA_") and key not in NOT_BROKER_PROPERTIES
    }


def _secret_read(command: str) -> str:
    """The secret file an Airflow _CMD setting reads (`cat FOLDER/NAME`): NAME."""
    match = READS_SECRET.match(command)
    assert match, f"{command!r} does not read one secret file"
    return match["name"]


def _meaning(key: str, value: str) -> str:
    # A _CMD setting reads a secret: the same one, wherever the secrets are kept.
    return _secret_read(value) if key.endswith("_CMD") else value


def _secret_names(service: dict[str, Any]) -> set[str]:
    return {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A secure cluster profile's settings under a fresh home: its layout file written, as
    `thbdb up --cluster` writes it, and no service started."""
    home = tmp_path_factory.mktemp("cluster-home")
    brokers = [BrokerNode(id=i, port=39082 + 10 * i, controller_port=39083 + 10 * i) for i in (1, 2, 3)]
    ClusterLayout(brokers=brokers, postgres_port=35432, redis_port=36379).write(home)
    settings = Settings.from_env({"THBDB_HOME": str(home), "THBDB_KAFKA_SECURE": "1", "THBDB_ACCOUNTS": "off"})
    assert settings.cluster and settings.kafka_secure
    return settings


@pytest.fixture(scope="module")
def local_brokers(cluster: Settings) -> dict[int, dict[str, str]]:
    """Each local node's server.properties, as the cluster profile writes it in secure mode."""
    kafka_security.ensure_credentials(cluster)
    written = {}
    for node in cluster.kafka_nodes:
        lines = kafka_broker._write_config(cluster, node).read_text().splitlines()
        written[node.id] = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return written


@pytest.fixture(scope="module")
def local_airflow(cluster: Settings) -> dict[str, str]:
    """The environment the cluster profile starts Airflow's processes with."""
    return airflow_stack.airflow_env(cluster)


def test_every_cluster_broker_property_is_set_alike_in_compose(
    compose: dict[str, Any], local_brokers: dict[int, dict[str, str]]
) -> None:
    for name, value in deployed.CLUSTER_BROKER_PROPERTIES.items():
        for service in KAFKA_SERVICES:
            assert compose["services"][service]["environment"].get(_kafka_variable(name)) == value, (service, name)
        for node, written in local_brokers.items():
            assert written[name] == value, (node, name)


def test_the_compose_brokers_are_secured_as_the_local_cluster(
    compose: dict[str, Any], local_brokers: dict[int, dict[str, str]]
) -> None:
    # Listener names (CONTROLLER, SASL_SSL) are the same in both, so the map compares as text.
    for number, service in enumerate(KAFKA_SERVICES, start=1):
        deployed_broker = _broker_properties(compose["services"][service]["environment"])
        local = local_brokers[number]
        for name in SECURITY_PROPERTIES:
            assert deployed_broker.get(name) == local[name], (service, name)
        # Beyond those, nothing both set differs, but what differs by nature.
        differ = {name for name in deployed_broker.keys() & local.keys() if deployed_broker[name] != local[name]}
        assert differ == set(KAFKA_DIFFER_BY_NATURE), service


def test_topics_are_replicated_as_the_cluster_profile_creates_them(compose: dict[str, Any]) -> None:
    for service in KAFKA_SERVICES:
        env = compose["services"][service]["environment"]
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == deployed.TOPIC_REPLICATION
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == deployed.CLUSTER_TOPIC_CONFIG["min.insync.replicas"]


def test_airflow_is_configured_as_the_cluster_profile_runs_it(
    compose: dict[str, Any], cluster: Settings, local_airflow: dict[str, str]
) -> None:
    anchor = compose["x-airflow-common"]
    env = anchor["environment"]
    for key, value in deployed.CLUSTER_AIRFLOW_CONFIG.items():
        assert key in env, f"docker-compose.yml does not set {key}"
        assert local_airflow[key] == value.format(secrets=cluster.hub_secrets_dir)
        if key.endswith("_CMD"):
            # The same secret, read from where each form keeps its secrets.
            name, read = _secret_read(value), READS_SECRET.match(env[key])
            assert read and read["folder"] == "/run/secrets" and read["name"] == name, key
            assert name in _secret_names(anchor) and name in compose["secrets"], name
        else:
            assert env[key] == value, key
    executor = "AIRFLOW__CORE__EXECUTOR"
    assert env[executor] == deployed.CLUSTER_AIRFLOW_CONFIG[executor] == local_airflow[executor] == "CeleryExecutor"


def test_what_the_local_cluster_runs_shorter_is_production_in_compose(
    compose: dict[str, Any], cluster: Settings, local_airflow: dict[str, str]
) -> None:
    airflow = compose["x-airflow-common"]["environment"]
    for setting in deployed.SHORTER_IN_TESTS:
        assert setting.production != setting.test, setting.variable
        if setting.variable.startswith("AIRFLOW__"):
            assert airflow.get(setting.variable) == setting.production, setting.variable
            assert local_airflow[setting.variable] == setting.test, setting.variable
        elif setting.variable in LOCAL_KAFKA_VALUES:
            for service in KAFKA_SERVICES:
                assert compose["services"][service]["environment"].get(setting.variable) == setting.production
            assert LOCAL_KAFKA_VALUES[setting.variable](cluster) == setting.test
        else:
            pytest.fail(f"{setting.variable}: tell this test where the cluster profile sets it")


def test_no_airflow_setting_differs_unsaid(compose: dict[str, Any], local_airflow: dict[str, str]) -> None:
    env = compose["x-airflow-common"]["environment"]
    shared = {key for key in env if key.startswith("AIRFLOW__")} & local_airflow.keys()
    differ = {key for key in shared if _meaning(key, str(env[key])) != _meaning(key, local_airflow[key])}
    shorter = {s.variable for s in deployed.SHORTER_IN_TESTS}
    assert differ - shorter == set(AIRFLOW_DIFFER_BY_NATURE)
    # A secret the local cluster hands Airflow (from a file of the home), compose hands it
    # too, from a secret file: one JWT key and one log-signing key for every process.
    for key in local_airflow:
        if key.startswith("AIRFLOW__") and SECRET_NAME.search(key) and not key.endswith(("_FILE", "_CMD")):
            command = env.get(f"{key}_CMD")
            assert command, f"docker-compose.yml does not set {key}_CMD"
            assert _secret_read(command) in compose["secrets"], key


def test_every_secret_a_service_reads_is_mounted(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        used = " ".join(
            str(part)
            for part in (
                *(service.get("environment") or {}).values(),
                service.get("command", ""),
                service.get("healthcheck", {}).get("test", ""),
            )
        )
        mounted = _secret_names(service)
        assert set(MOUNTED_SECRET.findall(used)) <= mounted, name
        assert mounted <= set(compose["secrets"]), name


def test_the_broker_health_check_signs_in_as_a_client(compose: dict[str, Any]) -> None:
    for service in KAFKA_SERVICES:
        check = " ".join(compose["services"][service]["healthcheck"]["test"])
        config = re.search(r"--command-config (\S+)", check)
        # A client properties file (the JAAS file is the broker's own), to a name the
        # brokers' certificate covers.
        assert config and config[1] != "/run/secrets/kafka_jaas.conf"
        assert "--bootstrap-server $${HOSTNAME}:9092" in check


def test_redis_takes_a_password(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    server, config = redis["command"]
    mounted = MOUNTED_SECRET.fullmatch(config)
    assert server == "redis-server" and mounted and mounted[1] in _secret_names(redis)
    check = " ".join(redis["healthcheck"]["test"])
    # The check signs in (the password from the secret, on no command line) and wants PONG:
    # refused, redis-cli still exits 0.
    assert "REDISCLI_AUTH=" in check and config in check and "grep -q PONG" in check
    assert " -a " not in check and "--pass" not in check
    assert "celery_broker_url" in _secret_names(compose["x-airflow-common"])
