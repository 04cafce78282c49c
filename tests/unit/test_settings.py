"""Settings read from the environment: defaults, and clear refusals of bad values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from warehouse.loader import ensure_schema, refresh_marts


def test_the_warehouse_memory_is_bounded_by_default_and_can_be_set(tmp_path: Path) -> None:
    assert Settings.from_env({"THBDB_HOME": str(tmp_path)}).warehouse_memory == "1GB"
    settings = Settings.from_env({"THBDB_HOME": str(tmp_path), "THBDB_WAREHOUSE_MEMORY": "512MB"})
    assert settings.warehouse_memory == "512MB"
    assert Settings.from_env(settings.to_env()).warehouse_memory == "512MB"  # handed to Airflow's tasks


@pytest.mark.parametrize("value", ["lots", "1GB'; DROP TABLE raw_victim_events; --", "-1GB"])
def test_a_warehouse_memory_that_is_not_a_size_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="THBDB_WAREHOUSE_MEMORY must be a size"):
        Settings.from_env({"THBDB_HOME": str(tmp_path), "THBDB_WAREHOUSE_MEMORY": value})


def test_the_marts_rebuild_within_the_memory_limit() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    refresh_marts(con, memory_limit="256MB")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)


def test_a_setting_that_is_not_a_number_is_named() -> None:
    with pytest.raises(ValueError, match="THBDB_BATCH_SIZE must be a whole number"):
        Settings.from_env({"THBDB_HOME": "/tmp/x", "THBDB_BATCH_SIZE": "lots"})
    with pytest.raises(ValueError, match="THBDB_LINK_THRESHOLD must be a number"):
        Settings.from_env({"THBDB_HOME": "/tmp/x", "THBDB_LINK_THRESHOLD": "high"})
