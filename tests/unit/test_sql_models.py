"""The warehouse's models against what their layer's schema.yml declares of them, on the
demo's warehouse: unique, not_null, accepted_values and relationships, one generic check
each (as dbt's generic tests), and every model of a layer declared beside it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from warehouse.loader import LAYERS, SQL_DIR, connect, layer_files

_MODEL = re.compile(r"CREATE (?:OR REPLACE )?(?:TABLE|VIEW) (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)


def _declared(layer: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((SQL_DIR / layer / "schema.yml").read_text("utf-8"))["models"])


def _checks() -> list[tuple[str, str, str, Any]]:
    found = []
    for layer in LAYERS:
        for model in _declared(layer):
            for column in model.get("columns", []):
                for test in column.get("tests", []):
                    name, options = (test, None) if isinstance(test, str) else next(iter(test.items()))
                    found.append((model["name"], column["name"], name, options))
    return found


def _failures(con: Any, model: str, column: str, test: str, options: Any) -> int:
    if test == "unique":
        sql = (f"SELECT count(*) FROM (SELECT {column} FROM {model} WHERE {column} IS NOT NULL"
               " GROUP BY 1 HAVING count(*) > 1)")  # fmt: skip
    elif test == "not_null":
        sql = f"SELECT count(*) FROM {model} WHERE {column} IS NULL"
    elif test == "accepted_values":
        values = ", ".join(f"'{v}'" for v in options["values"])
        sql = f"SELECT count(*) FROM {model} WHERE {column} IS NOT NULL AND {column} NOT IN ({values})"
    elif test == "relationships":
        sql = (f"SELECT count(*) FROM {model} m WHERE m.{column} IS NOT NULL AND NOT EXISTS "
               f"(SELECT 1 FROM {options['to']} t WHERE t.{options['field']} = m.{column})")  # fmt: skip
    else:
        raise AssertionError(f"unknown test {test} on {model}.{column}")
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("layer", LAYERS)
def test_every_model_of_a_layer_is_declared_beside_it(layer: str) -> None:
    made = {m for path in layer_files(layer) for m in _MODEL.findall(path.read_text("utf-8"))}
    assert made == {m["name"] for m in _declared(layer)}


@pytest.mark.parametrize(("model", "column", "test", "options"), _checks(), ids=lambda v: str(v)[:40])
def test_the_models_hold_what_they_declare(demo_warehouse: Path, model: str, column: str, test: str,
                                           options: Any) -> None:  # fmt: skip
    with connect(demo_warehouse, read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {model}").fetchone() is not None
        assert _failures(con, model, column, test, options) == 0


def test_a_broken_model_is_caught() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE m AS SELECT * FROM (VALUES ('a', 'x'), ('a', NULL), ('b', 'y')) t(k, v)")
    con.execute("CREATE TABLE parent AS SELECT 'a' AS k")
    assert _failures(con, "m", "k", "unique", None) == 1
    assert _failures(con, "m", "v", "not_null", None) == 1
    assert _failures(con, "m", "v", "accepted_values", {"values": ["x"]}) == 1
    assert _failures(con, "m", "k", "relationships", {"to": "parent", "field": "k"}) == 1
