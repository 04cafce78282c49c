"""The packages' layering. Each layer imports only from itself and the layers below:

0. the schema: settings, code lists, the contract, the event models
1. the disclosure core (disclosure/): protection, generalisation, k-anonymity, DP
2. from event to row, and validation (transforms/, expectations/)
3. the warehouse (warehouse/): SQL models, loading, queries
4. what runs and what leaves: pipeline/, producers/, release/, reports/, exports/
5. the command line and the stack's control (thbdb/), the DAGs, the benchmarks

So the pipeline, the warehouse, the release service, the reports and the exports can be
read, tested and deployed without the CLI or the local stack's control, and the disclosure
core without the warehouse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BELOW_THE_CLI = ("config", "disclosure", "pipeline", "reports", "exports", "producers", "transforms", "expectations",
                 "warehouse", "release", "dags")  # fmt: skip


LAYERS = (
    ("config", "transforms.codelists", "transforms.contract", "transforms.events"),
    ("disclosure",),
    ("transforms", "expectations"),
    ("warehouse",),
    ("pipeline", "producers", "release", "reports", "exports"),
    ("dags", "thbdb", "benchmarks"),
)


def _layer(module: str) -> int | None:
    """The layer of a module: that of the longest name in LAYERS it is, or is under."""
    found = [(len(name), i) for i, names in enumerate(LAYERS) for name in names
             if module == name or module.startswith(name + ".")]  # fmt: skip
    return max(found)[1] if found else None


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


@pytest.mark.parametrize("package", [*BELOW_THE_CLI, "thbdb"])
def test_no_module_imports_from_a_layer_above_its_own(package: str) -> None:
    upward = []
    for path in (ROOT / package).rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(module)
        assert own is not None, module
        upward += [f"{module} -> {m}" for m in _imports(path) if (_layer(m) or 0) > own]
    assert upward == []
