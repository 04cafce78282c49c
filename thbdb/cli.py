"""The `thbdb` command line: one entry point for operators, analysts and officers."""

from __future__ import annotations

import csv
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from thbdb.settings import COUNTRIES, Settings

app = typer.Typer(
    name="thbdb",
    help=(
        "The joint anonymised regional database on trafficking in human beings (Western Balkans).\n\n"
        "All state lives under $THBDB_HOME (default: .thbdb in the working directory)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
query_app = typer.Typer(help="Analysts' queries on the warehouse (read-only).", no_args_is_help=True)
app.add_typer(query_app, name="query")
report_app = typer.Typer(help="Reports for analysts and data-protection officers.", no_args_is_help=True)
app.add_typer(report_app, name="report")

out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class StatusFormat(StrEnum):
    text = "text"
    json = "json"


def _settings() -> Settings:
    return Settings.from_env()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def up(
    no_airflow: Annotated[bool, typer.Option("--no-airflow", help="Start only the Kafka broker.")] = False,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="SASL/SCRAM and ACLs on the broker: each country writes only its topic, the pipeline only reads"
            " (needs a fresh THBDB_HOME; the home stays secure afterwards).",
        ),
    ] = False,
) -> None:
    """Start the local stack (Kafka broker, Airflow) and wait until it answers. Idempotent."""
    from dataclasses import replace

    from thbdb import stack

    settings = _settings()
    if secure:
        settings = replace(settings, kafka_secure=True)
    try:
        with err.status("starting the stack (Kafka, Airflow)…"):
            started = stack.up(settings, airflow=not no_airflow)
    except (stack.StackError, RuntimeError) as error:
        raise _fail(str(error)) from None
    err.print(f"stack up ({'started ' + ', '.join(started) if started else 'already running'})")
    _print_status(settings, StatusFormat.text)


@app.command()
def down() -> None:
    """Stop the local stack. State under $THBDB_HOME is kept."""
    from thbdb import stack

    stopped = stack.down(_settings())
    err.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status(
    format: Annotated[StatusFormat, typer.Option("--format", help="text or json.")] = StatusFormat.text,
) -> None:
    """Show the local stack: broker address, Airflow URL, warehouse path, what runs."""
    _print_status(_settings(), format)


def _print_status(settings: Settings, format: StatusFormat) -> None:
    from thbdb import stack

    info = stack.status(settings)
    if format is StatusFormat.json:
        out.print_json(json.dumps(info))
        return
    table = Table(show_header=False, box=None)
    for key in ("home", "kafka_bootstrap", "kafka_running", "airflow_url", "airflow_running", "warehouse"):
        table.add_row(key, str(info[key]))
    out.print(table)


@app.command()
def produce(
    country: Annotated[str, typer.Option("--country", help=f"Reporting country: {', '.join(COUNTRIES)}.")],
    input: Annotated[Path, typer.Option("--input", help="The national export: victims.csv (format v1).")],
    create_key: Annotated[
        bool,
        typer.Option(help="Create the country's pseudonymisation key if it has none (local demo only)."),
    ] = False,
) -> None:
    """Push a national export: check every row, pseudonymise at source, publish to Kafka.

    Refused rows are listed on stderr by row number, column and reason (never a value);
    the exit code is 1 if any row was refused.
    """
    from producers.national_export import ExportRejected
    from producers.pseudonymise import KeyMissing
    from producers.publisher import PublishFailed
    from producers.push import push_export

    country = country.upper()
    if not input.is_file():
        raise _fail(f"no such file: {input}")
    try:
        with err.status(f"{country}: reading, pseudonymising and publishing {input.name}…") as spinner:
            report = push_export(
                _settings(),
                country,
                input,
                create_key=create_key,
                on_progress=lambda n: spinner.update(f"{country}: {n} rows published…"),
            )
    except (ExportRejected, KeyMissing, PublishFailed) as error:
        raise _fail(f"{input.name}: {error}") from None
    for refusal in report.refused:
        err.print(f"{input.name}: {refusal}", highlight=False, markup=False)
    if report.broker_interruptions:
        err.print(
            f"{country}: {report.broker_interruptions} connection fault(s) while the broker was unreachable;"
            " the producer retried and every event was acknowledged"
        )
    out.print(
        f"{country}: {report.published} rows published, {report.refused_rows} rows refused (batch {report.batch_id})"
    )
    if report.refused:
        raise typer.Exit(1)


@app.command()
def run(
    timeout: Annotated[int, typer.Option(help="Seconds to wait for the pipeline.")] = 1800,
) -> None:
    """Process everything published so far through the Airflow pipeline and wait for it."""
    from thbdb import airflow_stack

    settings = _settings()
    try:
        with err.status("pipeline running in Airflow (validate, quarantine, strip, load)…"):
            result = airflow_stack.run_pipeline(settings, timeout=timeout)
    except RuntimeError as error:
        raise _fail(str(error), code=1) from None
    out.print(result.summary_line())
    if not result.succeeded:
        raise typer.Exit(1)


@query_app.command("counts")
def query_counts(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,country.")],
    country: Annotated[str | None, typer.Option("--country", help="Only this reporting country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (identification).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="Smallest count shown (default 5); 1 turns suppression off.")
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Victim counts (distinct persons) grouped by dimensions, small cells suppressed.

    Dimensions: year, month, country, citizenship, sex, age_group, age_band,
    exploitation, recruitment, case_category, identified_by, country_of_exploitation.
    A victim with several exploitation forms counts once under each; one with none
    recorded counts under not_recorded.
    """
    from warehouse.loader import WarehouseBusy, connect
    from warehouse.queries import QueryError, parse_dimensions, victim_counts

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    try:
        dims = parse_dimensions(by)
        with connect(settings.warehouse, read_only=True) as con:
            cells = victim_counts(con, dims, country and country.upper(), year_from, year_to, threshold)
    except (QueryError, FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    if format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*dims, "victims", "suppressed"])
        for cell in cells:
            writer.writerow([*cell.key, "" if cell.victims is None else cell.victims, str(cell.suppressed).lower()])
        sys.stdout.write(buffer.getvalue())
    elif format is OutputFormat.json:
        rows = [
            {**dict(zip(dims, c.key, strict=True)), "victims": c.victims, "suppressed": c.suppressed} for c in cells
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        table = Table(*dims, "victims", title=f"Victims by {', '.join(dims)}")
        for cell in cells:
            table.add_row(*(str(k) for k in cell.key), "<suppressed>" if cell.suppressed else str(cell.victims))
        out.print(table)
        if any(c.suppressed for c in cells):
            err.print(f"cells under {threshold} victims are suppressed (--min-cell)")


@app.command()
def quarantine(
    country: Annotated[str, typer.Option("--country", help="Your country: its refused events.")],
    records: Annotated[
        Path | None,
        typer.Option(
            "--records",
            help="Your national export: record ids are matched to the pseudonyms with your key, on this machine.",
        ),
    ] = None,
    show_resolved: Annotated[bool, typer.Option("--all", help="Also events a later version resolved.")] = False,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Events of a country that validation refused, with the reasons.

    The hub knows records only by pseudonym. A national operator who passes --records
    (an export holding the record ids) sees the national record_id of each refused event,
    computed locally with the country's key: fix the record and push it again, and the
    entry shows as resolved.
    """
    from producers.pseudonymise import KeyMissing, record_ids_by_pseudonym
    from thbdb.validation_report import open_quarantine
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    country = country.upper()
    try:
        with connect(settings.warehouse, read_only=True) as con:
            entries = open_quarantine(con, country)
        names = record_ids_by_pseudonym(settings.keys_dir, country, records) if records else {}
    except (FileNotFoundError, WarehouseBusy, KeyMissing) as error:
        raise _fail(str(error)) from None
    if not show_resolved:
        entries = [e for e in entries if not e["resolved"]]
    columns = ["quarantined_at", "offset", "record", "reasons", "resolved"]
    rows = []
    for e in entries:
        pseudonym = e["record_ref"] or ""
        record = names.get(pseudonym, pseudonym[:12] or "unreadable")
        position = f"{e['partition']}:{e['offset']}"
        rows.append([str(e["quarantined_at"])[:19], position, record, e["reasons"], str(e["resolved"]).lower()])
    _print_rows(columns, rows, format, title=f"{country}: {len(rows)} quarantined events")


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


@report_app.command("validation")
def report_validation() -> None:
    """Write the validation report (pass rates per country, quarantine by reason) and
    say where it and the redacted Great Expectations Data Docs are."""
    from expectations.data_docs import data_docs_index
    from thbdb.validation_report import validation_history, write_validation_report
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    try:
        with connect(settings.warehouse, read_only=True) as con:
            path = write_validation_report(con, settings)
            history = validation_history(con)
    except (FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    table = Table(
        "day", "country", "events", "failed", "pass rate", "held back", title="Validation per country and day"
    )
    for h in history[-30:]:
        rate = "" if h["pass_rate"] is None else f"{h['pass_rate']:.1%}"
        table.add_row(h["day"], h["country"], str(h["events"]), str(h["failed"]), rate, str(h["batches_held_back"]))
    out.print(table)
    out.print(f"Validation report: {path}")
    out.print(f"Data Docs (redacted, no sample values): {data_docs_index(settings.gx_dir)}")


@app.command("check-table")
def check_table(
    table: Annotated[Path, typer.Argument(help="A published table: country,year,dimension,category,victims.")],
) -> None:
    """Check a published aggregate table: rows whose parts do not add up to the total,
    and cells the warehouse does not reproduce. Exit 1 if the warehouse differs."""
    from thbdb.check_table import compare_with_warehouse
    from transforms.published_tables import TableRejected, find_inconsistencies, read_published_table
    from warehouse.loader import WarehouseBusy, connect

    try:
        cells = read_published_table(table)
        with connect(_settings().warehouse, read_only=True) as con:
            differences = compare_with_warehouse(con, cells)
    except (TableRejected, FileNotFoundError, WarehouseBusy) as error:
        raise _fail(f"{table.name}: {error}") from None
    inconsistencies = find_inconsistencies(cells)
    out.print(f"[bold]{table.name}[/]: {len(cells)} cells")
    out.print(f"Rows that do not add up within the published table: {len(inconsistencies)}")
    for item in inconsistencies:
        out.print(f"  {item.severity}: {item}", highlight=False)
    out.print(f"Cells the warehouse does not reproduce: {len(differences)}")
    for difference in differences:
        out.print(f"  {difference}", highlight=False)
    if differences:
        raise typer.Exit(1)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic exports.")] = 7,
    exports_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the synthetic national exports (they hold fake names) in this folder."),
    ] = None,
) -> None:
    """The main job: start the stack, generate and push six countries' monthly exports,
    run the pipeline, print a trend summary and say where everything is."""
    from thbdb.demo import run_demo

    try:
        run_demo(_settings(), seed=seed, out=out, err=err, exports_dir=exports_dir)
    except RuntimeError as error:
        raise _fail(str(error), code=1) from None


if __name__ == "__main__":
    app()
