"""The benchmark's own stack: a temporary THBDB_HOME, free loopback ports, stopped at the end.

Driven through the installed `thbdb` command, as an operator would, so the figures
include what a user waits for.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from config.settings import COUNTRIES, Settings, country_topic
from thbdb.stack import isolated_env

THBDB = str(Path(sys.executable).with_name("thbdb"))


class BenchStackError(RuntimeError):
    pass


@dataclass
class BenchStack:
    home: Path
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    @classmethod
    def create(cls, batch_size: int | None = None, **settings: str) -> BenchStack:
        home = Path(tempfile.mkdtemp(prefix="thbdb-bench-home-"))
        home.chmod(0o711)  # passable: the cluster's PostgreSQL runs under its own account
        env = isolated_env(home, **settings)
        if batch_size:
            env["THBDB_BATCH_SIZE"] = str(batch_size)
        return cls(home, env)

    def thbdb(self, *args: str, check: bool = True, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        """Run the installed `thbdb` command against this stack."""
        result = subprocess.run(
            [THBDB, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.home
        )
        if check and result.returncode != 0:
            said = (result.stdout[-2000:] + "\n" + result.stderr[-3000:]).strip()  # Rich prints some errors on stdout
            raise BenchStackError(f"thbdb {' '.join(args)} exited {result.returncode}:\n{said}")
        return result

    def up(self, airflow: bool = True, cluster: bool = False) -> None:
        self.thbdb("up", *(() if airflow else ("--no-airflow",)), *(("--cluster",) if cluster else ()), timeout=900)

    def down(self, remove: bool = True) -> None:
        self.thbdb("down", check=False, timeout=300)
        if remove:
            shutil.rmtree(self.home, ignore_errors=True)

    def reset_data(self) -> None:
        """Empty the topics and remove the warehouse and its release snapshots, so the next
        run starts from nothing.

        The topics are truncated (records deleted up to their end) rather than deleted:
        offsets keep growing, and the pipeline starts at each partition's low watermark.
        """
        settings = self.settings
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
        from confluent_kafka import Consumer

        consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "thbdb-bench-reset"})
        try:
            ends = []
            for country in COUNTRIES:
                topic = country_topic(country)
                for partition in range(settings.topic_partitions):
                    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
                    if high > 0:
                        ends.append(TopicPartition(topic, partition, high))
        finally:
            consumer.close()
        if ends:
            for future in admin.delete_records(ends).values():
                future.result(timeout=60)
        for path in (settings.warehouse, settings.warehouse.with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)
        # And the release snapshots published from it: the service would go on counting
        # the last run's victims, and a latency run after a throughput run would take a
        # push for counted before it was.
        for entry in settings.releases_dir.glob("*"):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        # Its contents only: the folder is the hub account's, made so by `thbdb up`
        # (thbdb/accounts.py), and the pipeline may not create it again in the home.
        for entry in settings.gx_dir.glob("*"):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()


def wait_for(predicate, timeout: float, poll: float = 0.05) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``predicate()`` is true; raises after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise BenchStackError(f"condition not met in {timeout:.0f} s")
        time.sleep(poll)
    return time.monotonic() - started
