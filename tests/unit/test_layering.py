"""The packages' layering: the command line (thbdb/) sits on top and nothing below it
imports from it, so that the pipeline, the warehouse, the release service, the reports and
the exports can be read, tested and deployed without the CLI or the local stack's control."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BELOW_THE_CLI = ("config", "disclosure", "pipeline", "reports", "exports", "producers", "transforms", "expectations",
                 "warehouse", "release", "dags")  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", BELOW_THE_CLI)
def test_nothing_below_the_cli_imports_from_it(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if m == "thbdb" or m.startswith("thbdb."))
        for path in (ROOT / package).rglob("*.py")
    }
    assert {f: m for f, m in offending.items() if m} == {}
