"""The local Apache Kafka brokers: KRaft mode on loopback, one node (the embedded stack)
or three (the cluster profile, `thbdb up --cluster`).

The broker's jars come from Maven Central through infra/kafka/pom.xml (``make kafka``);
storage is formatted once, then the broker is started as a plain Java process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from config import deployed
from config.cluster_layout import BrokerNode
from config.settings import COUNTRIES, REPO_ROOT, SECURE_MARKER, Settings, country_topic
from pipeline import kafka_retention, kafka_security
from thbdb import accounts
from thbdb.processes import running_pid, start_process, stop_process

PROCESS = "kafka"
POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"


class BrokerError(RuntimeError):
    pass


def ensure_jars(settings: Settings) -> None:
    """Fetch the broker jars with Maven if they are not cached yet."""
    if any(settings.kafka_lib.glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None:
        raise BrokerError("Apache Maven (mvn) is needed to fetch the Kafka broker; install it")
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "package", f"-Dkafka.lib={settings.kafka_lib}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BrokerError(f"fetching the Kafka broker with Maven failed:\n{result.stdout[-2000:]}")


def node_dir(settings: Settings, node: BrokerNode) -> Path:
    """A broker's folder: the home's kafka/ for the embedded broker, kafka/node-N in a cluster."""
    return settings.kafka_dir / f"node-{node.id}" if settings.cluster else settings.kafka_dir


def process_name(settings: Settings, node: BrokerNode) -> str:
    return node.process if settings.cluster else PROCESS


def processes(settings: Settings) -> list[str]:
    return [process_name(settings, node) for node in settings.kafka_nodes]


def _replication(settings: Settings) -> list[str]:
    if settings.cluster:
        return [f"{name}={value}" for name, value in deployed.CLUSTER_BROKER_PROPERTIES.items()] + [
            "share.coordinator.state.topic.replication.factor=3",
            "share.coordinator.state.topic.min.isr=2",
        ]
    # One broker: internal topics cannot be replicated here (see README, scaling).
    return [
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        # Topics are created by `thbdb up`, never by a typo in a client.
        "auto.create.topics.enable=false",
    ]


def _write_config(settings: Settings, node: BrokerNode) -> Path:
    folder = node_dir(settings, node)
    data = folder / "data"
    config = folder / "server.properties"
    folder.mkdir(parents=True, exist_ok=True)
    host = settings.kafka_host
    if settings.kafka_secure:
        listeners = kafka_security.broker_properties(settings, node)
    else:
        listeners = [
            f"listeners=PLAINTEXT://{host}:{node.port},CONTROLLER://{host}:{node.controller_port}",
            f"advertised.listeners=PLAINTEXT://{host}:{node.port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]
    voters = ",".join(f"{n.id}@{host}:{n.controller_port}" for n in settings.kafka_nodes)
    # Owner-only: in secure mode the file holds the broker's own password.
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(descriptor)
    config.chmod(0o600)
    config.write_text(
        "\n".join(
            [
                f"# Written by `thbdb up`: KRaft node {node.id} of {len(settings.kafka_nodes)} on loopback.",
                "process.roles=broker,controller",
                f"node.id={node.id}",
                f"controller.quorum.voters={voters}",
                *listeners,
                "controller.listener.names=CONTROLLER",
                f"log.dirs={data}",
                "num.partitions=3",
                *_replication(settings),
                # The country topics state their own retention (pipeline/kafka_retention.py).
                *kafka_retention.broker_properties(settings),
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )
    (folder / "log4j2.properties").write_text(
        "status = warn\n"
        "appender.console.type = Console\n"
        "appender.console.name = STDOUT\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.stdout.ref = STDOUT\n"
        "logger.kafka.name = kafka\n"
        "logger.kafka.level = WARN\n"
        "logger.apache.name = org.apache.kafka\n"
        "logger.apache.level = WARN\n"
    )
    return config


def _heap(settings: Settings) -> str:
    return deployed.shortened_in_tests()["KAFKA_HEAP_OPTS"] if settings.cluster else "-Xmx1g"


def _java(settings: Settings, node: BrokerNode, main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        _heap(settings),
        f"-Dlog4j2.configurationFile={node_dir(settings, node) / 'log4j2.properties'}",
        "-cp",
        f"{settings.kafka_lib}/*",
        main,
        *args,
    ]


def _cluster_id(settings: Settings) -> str:
    """The id every node's storage is formatted with: made once, kept beside the nodes."""
    path = settings.kafka_dir / "cluster-id"
    if not path.exists():
        settings.kafka_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(uuid.uuid4().hex[:22] + "\n")
    return path.read_text().strip()


def start_broker(settings: Settings, timeout: float = 90.0) -> bool:
    """Start the brokers that are not running; wait until they answer. True if any started."""
    if settings.external_kafka:
        wait_until_ready(settings, timeout)
        return False
    started = [start_node(settings, node) for node in settings.kafka_nodes]
    wait_until_ready(settings, timeout)
    return any(started)


def start_node(settings: Settings, node: BrokerNode) -> bool:
    """Start one broker if it is not running, without waiting for it. True if started."""
    name = process_name(settings, node)
    if running_pid(settings.run_dir, name):
        return False
    ensure_jars(settings)
    folder = node_dir(settings, node)
    formatted = (folder / "data" / "meta.properties").exists()
    marker = settings.kafka_dir / SECURE_MARKER
    if settings.kafka_secure and formatted and not marker.exists():
        raise BrokerError(
            f"the broker under {settings.kafka_dir} was formatted without authentication;"
            " --secure needs a fresh THBDB_HOME (its credentials are written when the storage is formatted)"
        )
    if settings.kafka_secure:
        kafka_security.ensure_credentials(settings)
    config = _write_config(settings, node)
    hub = accounts.hub_for(settings)  # None unless accounts are on: then the broker runs as the hub
    if not formatted:
        result = subprocess.run(
            _java(settings, node, "kafka.tools.StorageTool", "format", "-t", _cluster_id(settings), "-c", str(config)),
            capture_output=True,
            text=True,
            **(hub.popen() if hub else {}),
        )
        if result.returncode != 0:
            # The output may echo the arguments: never show it in secure mode (passwords).
            detail = "" if settings.kafka_secure else f": {result.stdout[-1500:]}{result.stderr[-1500:]}"
            raise BrokerError(f"formatting Kafka storage failed{detail}")
        if settings.kafka_secure:
            marker.write_text("SASL/SCRAM-SHA-512 with ACLs; credentials under keys/kafka/\n")
    start_process(
        settings.run_dir,
        settings.logs_dir,
        name,
        _java(settings, node, "kafka.Kafka", str(config)),
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "KAFKA_HEAP_OPTS": _heap(settings)},
        account=hub,
    )
    return True


def admin(settings: Settings) -> AdminClient:
    # log_level 0: a probe of a broker that is still starting must not flood the terminal.
    return AdminClient(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "socket.timeout.ms": 5000,
            "log_level": 0,
            **kafka_security.client_config(settings, kafka_security.ADMIN),
        }
    )


def brokers_answering(settings: Settings) -> int:
    """How many brokers the cluster's metadata lists as alive (0: none answers)."""
    try:
        metadata = admin(settings).list_topics(timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return 0
    return len(metadata.brokers)


def brokers_wanted(settings: Settings) -> int:
    """How many brokers must answer: every one of this home's (any, for brokers elsewhere)."""
    return 1 if settings.external_kafka else len(settings.kafka_nodes)


def is_ready(settings: Settings) -> bool:
    return brokers_answering(settings) >= brokers_wanted(settings)


def wait_until_ready(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(settings):
            return
        if not settings.external_kafka:
            for name in processes(settings):
                if running_pid(settings.run_dir, name) is None:
                    raise BrokerError(f"the Kafka broker {name} exited; see {settings.logs_dir / (name + '.log')}")
        time.sleep(1)
    raise BrokerError(f"the Kafka broker at {settings.kafka_bootstrap} did not answer in {timeout:.0f} s")


def ensure_topics(settings: Settings) -> None:
    """Create the six country topics if they do not exist, and their ACLs on a secure broker."""
    client = admin(settings)
    existing = set(client.list_topics(timeout=10).topics)
    retention = kafka_retention.topic_config(settings)
    wanted = [
        NewTopic(
            country_topic(c),
            num_partitions=settings.topic_partitions,
            replication_factor=deployed.TOPIC_REPLICATION if settings.cluster else 1,
            config={**retention, **(deployed.CLUSTER_TOPIC_CONFIG if settings.cluster else {})},
        )
        for c in COUNTRIES
        if country_topic(c) not in existing
    ]
    for topic, future in client.create_topics(wanted).items() if wanted else ():
        try:
            future.result(timeout=30)
        except Exception as error:
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise BrokerError(f"could not create topic {topic}: {error}") from error
    _state_retention(client, [country_topic(c) for c in COUNTRIES if country_topic(c) in existing], retention)
    kafka_security.ensure_scram(settings, client)
    kafka_security.ensure_acls(settings, client)


def _state_retention(client: AdminClient, topics: list[str], retention: dict[str, str]) -> None:
    """Give topics made before (or with another stated erasure time) today's retention."""
    if not topics:
        return
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            topic,
            incremental_configs=[
                ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
                for name, value in retention.items()
            ],
        )
        for topic in topics
    ]
    for resource, future in client.incremental_alter_configs(resources).items():
        try:
            future.result(timeout=30)
        except Exception as error:
            raise BrokerError(f"could not set the retention of {resource.name}: {error}") from error


def stop_broker(settings: Settings) -> bool:
    stopped = [stop_process(settings.run_dir, name, timeout=60) for name in reversed(processes(settings))]
    return any(stopped)
