"""The DAG file parses cheaply and declares the flow the README describes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import time
started = time.monotonic()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="{dags}")
assert not bag.import_errors, bag.import_errors
dag = bag.dags["thbdb_pipeline"]
print(sorted(dag.task_ids))
print(dag.max_active_runs)
stream = bag.dags["thbdb_stream"]
print(sorted(stream.task_ids), stream.max_active_runs, stream.is_paused_upon_creation, type(stream.timetable).__name__)
"""


def test_the_dag_parses_with_no_import_errors(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(dags=ROOT / "dags")], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    task_ids, max_runs, stream = result.stdout.strip().splitlines()[-3:]
    assert task_ids == "['drain_country', 'refresh_marts']"
    assert max_runs == "1"  # one writer for the warehouse at a time
    # One consumer, run after run, and off until an operator turns it on.
    assert stream == "['consume'] 1 True ContinuousTimetable"


def test_the_dag_files_import_nothing_heavy_at_parse_time() -> None:
    for name in ("thbdb_pipeline.py", "thbdb_stream.py"):
        source = (ROOT / "dags" / name).read_text()
        top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
        heavy = ("great_expectations", "duckdb", "thbdb")
        assert not [line for line in top_level if any(h in line for h in heavy)], name
