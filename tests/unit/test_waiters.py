"""A drain holds the warehouse across batches and lets go when another process waits
for it (warehouse/waiters.py, pipeline/drain.py's HeldWarehouse)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pipeline.drain import HeldWarehouse
from warehouse import waiters
from warehouse.loader import connect, ensure_schema

_OTHER_WRITER = """
import sys
from pathlib import Path
from warehouse.loader import connect
with connect(Path(sys.argv[1]), wait_seconds=120) as con:
    con.execute("CREATE TABLE IF NOT EXISTS written_by_the_other (x INTEGER)")
print("in", flush=True)
"""


def test_a_held_warehouse_lets_a_waiting_process_in_between_batches(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    held = HeldWarehouse(path)
    ensure_schema(held.connection())
    other = subprocess.Popen([sys.executable, "-c", _OTHER_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        while not waiters.others_waiting(path):  # it finds the file locked and says it waits
            assert other.poll() is None, "the other process got in while the file was held"
            time.sleep(0.05)
        held.let_go_if_waited_for()  # after the batch: it lets go, and waits for the other to get in
        assert other.wait(timeout=120) == 0
        assert other.stdout is not None and other.stdout.read().strip() == "in"
        # The drain takes the warehouse back for its next batch.
        tables = held.connection().execute("SELECT table_name FROM duckdb_tables()").fetchall()
        assert ("written_by_the_other",) in tables
    finally:
        held.close()
        other.kill()
    assert not list(tmp_path.glob(".w.duckdb.waiting-*"))


def test_a_marker_left_by_a_dead_process_is_not_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    marker = tmp_path / f".w.duckdb.waiting-{dead.stdout.strip()}-1"
    marker.touch()
    assert not waiters.others_waiting(path)
    assert not marker.exists()


def test_nothing_waits_while_nobody_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as con:
        ensure_schema(con)
    assert not waiters.others_waiting(path)
