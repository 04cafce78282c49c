"""What every `thbdb` command shares: the application and its command groups, the
consoles, the options, reading the settings, failing in one line, asking the hub."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from config.settings import Settings

app = typer.Typer(
    name="thbdb",
    help=(
        "The joint anonymised regional database on trafficking in human beings (Western Balkans).\n\n"
        "All state lives under $THBDB_HOME (default: .thbdb in the working directory)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    add_completion=False,
    pretty_exceptions_enable=False,
)
query_app = typer.Typer(
    help="Analysts' queries, answered by the hub's release service (protected unless your token is entitled).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(query_app, name="query")
report_app = typer.Typer(
    help="Reports for analysts and data-protection officers.", no_args_is_help=True, rich_markup_mode="markdown"
)
app.add_typer(report_app, name="report")
stream_app = typer.Typer(
    help=(
        "The streaming consumer (Airflow DAG thbdb_stream): pushes become countable within seconds,"
        " without `thbdb run`. Off unless turned on."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(stream_app, name="stream")
keys_app = typer.Typer(
    help="A country's keys: its pseudonymisation key and the region's shared linkage key (0600, never overwritten).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(
    help="Identities of the hub's release service: a role (analyst, national, dpo, admin) and a token.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(users_app, name="users")

out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class StatusFormat(StrEnum):
    text = "text"
    json = "json"


# Commands that act on the hub's state: with accounts on (thbdb/accounts.py) and run by
# root, they run as the hub's account, like the hub's processes. The commands that read
# outputs (query, report, export, check-table, quarantine, audit) are clients of the
# release service instead, and run as whoever calls them.
HUB_COMMANDS = frozenset({"run", "rebuild", "stream", "users"})


@app.callback()
def _as_hub(ctx: typer.Context) -> None:
    from thbdb import accounts

    if ctx.invoked_subcommand in HUB_COMMANDS:
        settings = _settings()
        if accounts.enforced(settings.accounts):
            try:
                accounts.become(accounts.ensure(accounts.HUB))
            except accounts.AccountError as error:  # no useradd, say: one line, not a traceback
                raise _fail(str(error)) from None


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as error:  # a THBDB_* variable that cannot be read: say which
        raise _fail(str(error)) from None


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)  # one line, however long
    return typer.Exit(code)


TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="THBDB_TOKEN",
        show_envvar=True,
        help="Your release-service token (default: the local admin's, on the hub's own machine).",
    ),
]


MinCellOption = Annotated[
    int | None,
    typer.Option(
        "--min-cell",
        help="Smallest count shown (default: the policy's 5). Below it, exact counts: the admin's, or a national"
        " officer's for its own --country.",
    ),
]


def _ask(operation: str, body: dict[str, object], token: str | None) -> dict[str, Any]:
    """One request to the hub's release service; exit 2 with its one-line reason if refused."""
    from release.client import HubError, ask

    try:
        answer: dict[str, Any] = ask(_settings(), operation, {k: v for k, v in body.items() if v is not None}, token)
    except HubError as error:
        raise _fail(str(error)) from None
    return answer


def _upper(country: str | None) -> str | None:
    return country.upper() if country else None


def _print_rows(columns: list[str], rows: list[list[str]], format: OutputFormat, title: str) -> None:
    if format is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif format is OutputFormat.json:
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2, default=str) + "\n")
    else:
        table = Table(*columns, title=title)
        for row in rows:
            table.add_row(*row)
        out.print(table)


def _save(answer: dict[str, Any], out_dir: Path | None, name: str) -> Path:
    """Write the files a report answer carries: into ``out_dir``, by default the home's
    reports folder (for the local hub) or the working directory (for a remote one).
    Returns the path of ``name`` among them."""
    from release.client import write_files

    settings = _settings()
    folder = out_dir or (settings.reports_dir if settings.external_hub_url is None else Path.cwd())
    try:
        written = write_files(answer, folder)
    except OSError as error:
        raise _fail(f"cannot write the report into {folder}: {error.strerror}; pass --out FOLDER") from None
    return next(p for p in written if p.name == name)


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")]
YearToOption = Annotated[int | None, typer.Option("--to", help="Last year.")]
CountryOption = Annotated[str | None, typer.Option("--country", help="Only this reporting country.")]

ReportOut = Annotated[
    Path | None,
    typer.Option("--out", help="The folder to write into (default: $THBDB_HOME/reports for the local hub, else .)."),
]
