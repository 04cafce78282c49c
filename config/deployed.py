"""The deployed form's settings, in one place: docker-compose.yml describes them, the
cluster profile (`thbdb up --cluster`) runs them, and tests/unit/test_compose.py holds
the two to each other.

Where the local cluster must differ to keep the tests short, the difference is listed in
``SHORTER_IN_TESTS`` with the production value beside the test value, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every broker of the cluster (server.properties; KAFKA_<NAME> in docker-compose.yml).
CLUSTER_BROKER_PROPERTIES = {
    "default.replication.factor": "3",
    # A write is acknowledged (acks=all, as every producer here asks) once two replicas
    # hold it: one broker may be down without stopping a push or losing an event.
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "auto.create.topics.enable": "false",
}

# The country topics of the cluster (pipeline/kafka_retention.py adds their retention).
TOPIC_REPLICATION = 3
CLUSTER_TOPIC_CONFIG = {"min.insync.replicas": "2"}

# Airflow's configuration of the deployed form (AIRFLOW__<SECTION>__<KEY>).
CLUSTER_AIRFLOW_CONFIG = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    # Secrets are read from files at start (Airflow's _CMD settings), never written here.
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "cat {secrets}/airflow_db_url",
    "AIRFLOW__CELERY__BROKER_URL_CMD": "cat {secrets}/celery_broker_url",
    # Celery's results in the same database, in Celery's spelling of its URL (db+...).
    "AIRFLOW__CELERY__RESULT_BACKEND_CMD": "cat {secrets}/celery_result_backend",
}


@dataclass(frozen=True)
class Shortened:
    """A setting the local cluster runs with another value than production."""

    variable: str  # as docker-compose.yml would set it
    production: str
    test: str
    why: str


SHORTER_IN_TESTS = (
    Shortened(
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
        "300",
        "30",
        "how long after a Celery worker dies its task is failed and retried; 5 minutes per"
        " killed worker would make the fault tests 15 minutes longer",
    ),
    Shortened(
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL",
        "10.0",
        "5.0",
        "how often the scheduler looks for such tasks",
    ),
    Shortened(
        "KAFKA_HEAP_OPTS",
        "-Xmx1g",
        "-Xmx512m",
        "three brokers beside Airflow, PostgreSQL and the tests on one 2-core, 24 GB machine",
    ),
)


def shortened_in_tests() -> dict[str, str]:
    return {s.variable: s.test for s in SHORTER_IN_TESTS}
