"""Every command's --help: it renders, loses no word of the command's text, and
re-flows the text's paragraphs to the terminal (a docstring's own line breaks used
to show as lines cut short mid-sentence)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from thbdb.cli import app


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_$.,:;'()<>=-]+", text.replace("`", ""))


def test_every_help_renders_whole_and_reflowed() -> None:
    runner = CliRunner()
    for path, command in _commands(get_command(app), []):
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert shown.exit_code == 0, (path, shown.output)
        text = " ".join(line.strip(" │") for line in shown.output.splitlines())
        described = inspect.cleandoc(command.help or "")
        assert " ".join(_words(described)) in " ".join(_words(text)), f"thbdb {' '.join(path)}: text lost"

    # Wide enough for the phrase to fit on a line, where the docstring breaks it.
    rebuild = runner.invoke(app, ["rebuild", "--help"], env={"COLUMNS": "200"}).output
    assert "this builds them again from every record (after restoring a backup, or to check them)" in rebuild
