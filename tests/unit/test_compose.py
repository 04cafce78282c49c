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
