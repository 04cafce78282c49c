"""What the broker's files hold, read with Kafka's own DumpLogSegments tool.

A consumer sees only what lies above a partition's start; the files may still hold
events below it until the broker deletes their segment (pipeline/kafka_retention.py). A
search for personal data or erased records reads the files themselves: every batch,
decompressed, with its keys and values.
"""

from __future__ import annotations

import subprocess

from config.settings import Settings
from thbdb.kafka_broker import _java, node_dir


def broker_text(settings: Settings, topic_prefix: str = "thbdb.events.") -> bytes:
    """Every key and value in the segment files of the topics named ``topic_prefix``…"""
    for _attempt in range(5):  # a segment deleted between listing and reading: list again
        files = sorted(
            str(p)
            for node in settings.kafka_nodes  # one node, or the cluster's three
            for p in (node_dir(settings, node) / "data").glob(f"{topic_prefix}*/*.log")
        )
        if not files:
            return b""
        dumped = subprocess.run(
            _java(settings, settings.kafka_nodes[0], "kafka.tools.DumpLogSegments", "--deep-iteration",
                  "--print-data-log", "--files", ",".join(files)),
            capture_output=True, timeout=300,
        )  # fmt: skip
        if dumped.returncode == 0 and b"NoSuchFileException" not in dumped.stderr:
            return dumped.stdout
    raise AssertionError(f"DumpLogSegments failed: {dumped.stderr.decode(errors='replace')[-500:]}")
