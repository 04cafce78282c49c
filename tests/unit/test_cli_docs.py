"""docs/cli.md is generated from the CLI (`make docs`) and must match it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_DOCS = ROOT / "docs" / "cli.md"


def test_cli_docs_are_current(tmp_path: Path) -> None:
    generated = tmp_path / "cli.md"
    # The same command as `make docs`, with the venv's own typer and the same fixed width.
    command = [sys.executable, "-m", "typer", "thbdb.cli", "utils", "docs"]
    subprocess.run(
        [*command, "--name", "thbdb", "--output", str(generated)],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
        check=True,
        capture_output=True,
        text=True,
    )
    assert generated.read_text(encoding="utf-8") == CLI_DOCS.read_text(encoding="utf-8"), (
        "docs/cli.md is not what the CLI generates: run `make docs` and commit docs/cli.md"
    )


def test_the_command_line_starts_without_the_data_libraries() -> None:
    """A client command (`thbdb query`) is one request to the hub: pandas, DuckDB and
    numpy are imported only by the commands that need them, so that it starts in well
    under a second (streaming latency counts its start; it took 1.8 s with pandas)."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, thbdb.cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert {"pandas", "duckdb", "numpy", "pyarrow", "plotly"} & set(loaded) == set()
