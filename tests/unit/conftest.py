"""Unit-test fixtures: the demo's synthetic exports loaded into a DuckDB warehouse
without the stack (tests/warehouse_builder.py), once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouse_builder import load_demo

DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo-warehouse")
    return load_demo(base / "thbdb.duckdb", base / "exports", seed=DEMO_SEED)
