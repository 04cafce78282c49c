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
