"""The `thbdb` command line: one entry point for operators, analysts and officers."""

from __future__ import annotations

import csv
import io
import json
import os
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
stream_app = typer.Typer(
    help=(
        "The streaming consumer (Airflow DAG thbdb_stream): pushes become countable within seconds,"
        " without `thbdb run`. Off unless turned on."
    ),
    no_args_is_help=True,
)
app.add_typer(stream_app, name="stream")
keys_app = typer.Typer(
    help="A country's keys: its pseudonymisation key and the region's shared linkage key (0600, never overwritten).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

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
# root, they run as the hub's account, like the hub's processes.
HUB_COMMANDS = frozenset({"run", "stream", "query", "report", "export", "check-table"})


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
    keys = (
        "home",
        "kafka_bootstrap",
        "kafka_running",
        "airflow_url",
        "airflow_running",
        "streaming",
        "warehouse",
        "accounts",
    )
    for key in keys:
        table.add_row(key, str(info[key]))
    out.print(table)


@app.command()
def produce(
    country: Annotated[str, typer.Option("--country", help=f"Reporting country: {', '.join(COUNTRIES)}.")],
    input: Annotated[
        Path, typer.Option("--input", help="The national export: victims.csv or perpetrators.csv (format v1).")
    ],
    create_key: Annotated[
        bool,
        typer.Option(help="Create the country's pseudonymisation key if it has none (local demo only)."),
    ] = False,
) -> None:
    """Push a national export: check every row, pseudonymise at source, publish to Kafka.

    Refused rows are listed on stderr by row number, column and reason (never a value);
    the exit code is 1 if any row was refused.
    """
    from producers import country_keys
    from producers.national_export import ExportRejected
    from producers.pseudonymise import KeyMissing
    from producers.publisher import PublishFailed
    from producers.push import push_export
    from thbdb import accounts

    country = country.upper()
    if not input.is_file():
        raise _fail(f"no such file: {input}")
    settings = _settings()
    data, keys_ready = None, False
    try:
        if accounts.enforced(settings.accounts) and country in COUNTRIES:
            # Read the export as the user who ran this, put the keys in place, then go on
            # as the country's own account: it can open its keys and nobody else's.
            data = input.read_bytes()
            folder = country_keys.prepare(settings, country, create_key)
            account = accounts.country_for(settings, country, folder)
            assert account is not None
            accounts.become(account)
            keys_ready = True
        with err.status(f"{country}: reading, pseudonymising and publishing {input.name}…") as spinner:
            report = push_export(
                settings,
                country,
                input,
                create_key=create_key,
                on_progress=lambda n: spinner.update(f"{country}: {n} rows published…"),
                data=data,
                keys_ready=keys_ready,
            )
    except (ExportRejected, KeyMissing, PublishFailed, accounts.AccountError) as error:
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
    if not report.linkage:
        err.print(
            f"no shared linkage key under {settings.country_keys_dir(country)}: records published without linkage"
            f" encodings (store the region's with `thbdb keys import-linkage FILE --country {country}`)"
        )
    if report.refused:
        raise typer.Exit(1)


def _store_new_key(country: str, file_name: str, key: bytes, if_there: str) -> Path:
    """Write ``key`` to a new owner-only file in the country's key folder (its keys moved
    there from an older home; with accounts on, the folder owned by the country's account).
    Fails, naming ``if_there``, rather than replace a key."""
    from producers import country_keys
    from thbdb import accounts

    country = country.upper()
    if country not in COUNTRIES:
        raise _fail(f"unknown country {country!r}; one of {', '.join(COUNTRIES)}")
    settings = _settings()
    folder = country_keys.migrate(settings, country)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / file_name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _fail(f"{path} exists: {if_there}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    try:
        accounts.country_for(settings, country, folder)
    except accounts.AccountError as error:
        raise _fail(str(error)) from None
    return path


@keys_app.command("init")
def keys_init(country: Annotated[str, typer.Option("--country", help="The country whose key to make.")]) -> None:
    """Make the country's pseudonymisation key (32 random bytes, 0600). Refuses to replace
    one: a new key gives every record a new pseudonym, and each would count twice."""
    from producers.pseudonymise import KEY_BYTES

    key = os.urandom(KEY_BYTES)
    path = _store_new_key(country, f"{country.upper()}.key", key, "a country key is made once (README, Keys)")
    out.print(f"{country.upper()}: pseudonymisation key made at {path}; back it up with the national database")


@keys_app.command("init-linkage")
def keys_init_linkage(
    country: Annotated[str, typer.Option("--country", help="The focal point's country: the key is made there.")],
) -> None:
    """Make the region's shared linkage key, once, at one national focal point; hand it to
    the other countries out of band (never through the hub), who import it."""
    from producers.linkage import KEY_BYTES, KEY_FILE

    if_there = "the region has a linkage key; rotating it is a joint decision (README)"
    path = _store_new_key(country, KEY_FILE, os.urandom(KEY_BYTES), if_there)
    out.print(f"{country.upper()}: linkage key made at {path}; give it to the other focal points out of band")


@keys_app.command("import-linkage")
def keys_import_linkage(
    file: Annotated[Path, typer.Argument(help="The linkage key as the focal point handed it over (64 hex digits).")],
    country: Annotated[str, typer.Option("--country", help="Your country.")],
) -> None:
    """Store the region's linkage key in your country's folder (0600, never overwritten)."""
    from producers.linkage import KEY_BYTES, KEY_FILE

    try:
        key = bytes.fromhex(file.read_text("ascii").strip())
    except (OSError, ValueError):
        raise _fail(f"{file} does not hold a linkage key (64 hex digits)") from None
    if len(key) != KEY_BYTES:
        raise _fail(f"{file} does not hold a {KEY_BYTES}-byte key")
    path = _store_new_key(country, KEY_FILE, key, "remove it first if the region rotated its key (README)")
    out.print(f"{country.upper()}: linkage key stored at {path}")


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


@stream_app.command("on")
def stream_on() -> None:
    """Turn streaming on: pushes become countable in seconds.

    Airflow runs a long-lived consumer that drains every country's topic as events
    arrive and rebuilds the marts after each load. It stays on (across windows and
    restarts of the stack) until `thbdb stream off`."""
    _set_streaming(True)


@stream_app.command("off")
def stream_off() -> None:
    """Turn streaming off: pushes wait for `thbdb run` again.

    Pauses the DAG and waits until the running consumer has committed the batch in hand
    and ended."""
    _set_streaming(False)


@stream_app.command("status")
def stream_status() -> None:
    """Whether streaming is on, and the state of the consumer's current Airflow run."""
    from thbdb import airflow_stack

    try:
        state = airflow_stack.stream_state(_settings())
    except RuntimeError as error:
        raise _fail(str(error)) from None
    out.print(state.summary_line(), highlight=False)


def _set_streaming(on: bool) -> None:
    from thbdb import airflow_stack

    try:
        with err.status("turning streaming on…" if on else "turning streaming off, waiting for the consumer to end…"):
            state = airflow_stack.set_streaming(_settings(), on)
    except RuntimeError as error:
        raise _fail(str(error)) from None
    out.print(state.summary_line(), highlight=False)


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
    totals: Annotated[
        bool, typer.Option("--totals", help="Also show the totals of every dimension (the value 'total').")
    ] = False,
) -> None:
    """Victim counts (distinct persons) grouped by dimensions, small cells suppressed.

    Cells under --min-cell victims are withheld, and so are the cells that would let
    a withheld one be recovered from a total (secondary suppression).

    Dimensions: year, month, country, citizenship, sex, age_group, age_band,
    exploitation, recruitment, case_category, identified_by, country_of_exploitation;
    modus operandi: means_of_control, means_of_travel, means_of_communication,
    recruited_in, trafficking_scope (domestic, cross_border), route (recruited in >
    transit > exploited in), perpetrator_structure, perpetrator_relation (of the
    perpetrators linked to the victim's case). A victim with several codes of a list
    (exploitation, means of ..., perpetrators) counts once under each; one with none
    recorded counts under not_recorded.
    """
    from warehouse.loader import WarehouseBusy, connect
    from warehouse.queries import QueryError, parse_dimensions, victim_counts

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    try:
        dims = parse_dimensions(by)
        with connect(settings.warehouse, read_only=True) as con:
            cells = victim_counts(con, dims, country and country.upper(), year_from, year_to, threshold, totals)
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
            err.print(
                f"cells under {threshold} victims are suppressed (--min-cell), and"
                f" {sum(c.secondary for c in cells)} more so that none can be recovered from the totals"
            )


@query_app.command("links")
def query_links(
    by: Annotated[str, typer.Option("--by", help="Comma-separated: pair, year, country.")] = "pair,year",
    country: Annotated[str | None, typer.Option("--country", help="Only persons found in this country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (first identification).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="Smallest count shown (default 5); 1 turns suppression off.")
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Cross-border persons: victims that privacy-preserving linkage found in two or more
    countries, by country pair (e.g. MK-RS), year of first identification in the region,
    or country. A person in three countries counts under each of its pairs. Small cells
    are suppressed as in `query counts`; the total comes last (CSV and JSON: a row with
    every dimension set to `total`).
    """
    from warehouse.link_queries import link_counts, parse_link_dimensions
    from warehouse.loader import WarehouseBusy, connect
    from warehouse.queries import QueryError

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    try:
        dims = parse_link_dimensions(by)
        with connect(settings.warehouse, read_only=True) as con:
            cells, total = link_counts(con, dims, country and country.upper(), year_from, year_to, threshold)
    except (QueryError, FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    rows = [(list(c.key), c) for c in cells] + [(["total"] * len(dims), total)]
    if format is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([*dims, "victims", "suppressed"])
        for key, cell in rows:
            writer.writerow([*key, "" if cell.victims is None else cell.victims, str(cell.suppressed).lower()])
    elif format is OutputFormat.json:
        document = [
            {**dict(zip(dims, key, strict=True)), "victims": c.victims, "suppressed": c.suppressed} for key, c in rows
        ]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        table = Table(*dims, "victims", title=f"Cross-border persons by {', '.join(dims)}")
        for key, cell in rows:
            table.add_row(*(str(k) for k in key), "<suppressed>" if cell.suppressed else str(cell.victims))
        out.print(table)
        if any(c.suppressed for _, c in rows):
            err.print(f"cells under {threshold} persons are suppressed (--min-cell)")


class TrendPeriod(StrEnum):
    year = "year"
    quarter = "quarter"


@query_app.command("trends")
def query_trends(
    dimension: Annotated[str, typer.Option("--dimension", help="The dimension, e.g. exploitation, means_of_control.")],
    country: Annotated[
        str | None, typer.Option("--country", help="Only this reporting country (default: each, and ALL).")
    ] = None,
    period: Annotated[TrendPeriod, typer.Option("--period", help="year or quarter.")] = TrendPeriod.year,
    filter: Annotated[
        str | None,
        typer.Option("--filter", help="Only victims with DIM=VALUE, comma-separated, e.g. age_group=minor."),
    ] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year.")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the flag.")] = 0.05,
    flagged_only: Annotated[bool, typer.Option("--flagged-only", help="Only rows whose change is flagged.")] = False,
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="Smallest count shown (default 5); 1 turns suppression off.")
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Share of each category of a dimension per period and country, its change against
    the previous period, and a flag where Fisher's exact test finds the change unlikely
    to be chance (p < --alpha).

    Without --country, rows for each reporting country and for the region (ALL). A
    suppressed cell has empty victims and share; a change is shown only when neither
    period's cell is suppressed. CSV columns: period, country, category, victims, share,
    change, flagged, then p_value, direction, period_victims, suppressed.
    """
    from warehouse.loader import WarehouseBusy, connect
    from warehouse.queries import QueryError
    from warehouse.trends import parse_filters, trend_cells

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    try:
        filters = parse_filters(filter)
        with connect(settings.warehouse, read_only=True) as con:
            cells = trend_cells(
                con, dimension, country and country.upper(), period.value, threshold, filters, alpha, year_from, year_to
            )
    except (QueryError, FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    if flagged_only:
        cells = [c for c in cells if c.flagged]
    columns = ["period", "country", "category", "victims", "share", "change", "flagged", "p_value", "direction",
               "period_victims", "suppressed"]  # fmt: skip

    def number(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    if format is OutputFormat.json:
        rows = [{k: getattr(c, k) for k in columns} for c in cells]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    text_rows = [
        [c.period, c.country, c.category, "" if c.victims is None else str(c.victims), number(c.share, 4),
         number(c.change, 4), str(c.flagged).lower(), number(c.p_value, 4), c.direction,
         "" if c.period_victims is None else str(c.period_victims), str(c.suppressed).lower()]
        for c in cells
    ]  # fmt: skip
    if format is OutputFormat.table:
        for row in text_rows:
            row[3] = row[3] or "<suppressed>"
            row[6] = "FLAGGED" if row[6] == "true" else ""
    _print_rows(columns, text_rows, format, title=f"Trends of {dimension} by {period.value}")


@query_app.command("perpetrators")
def query_perpetrators(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,role.")],
    country: Annotated[str | None, typer.Option("--country", help="Only this reporting country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (registration).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="Smallest count shown (default 5); 1 turns suppression off.")
    ] = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """Perpetrator profiles: distinct perpetrators by dimensions, small cells suppressed.

    Dimensions: year, country, status, sex, citizenship, age_group, age_band, role,
    structure, relation_to_victim, linked_to_victim. One with several roles counts once
    under each. CSV: one column per dimension, then perpetrators, then suppressed.
    """
    from warehouse.loader import WarehouseBusy, connect
    from warehouse.perpetrators import parse_perpetrator_dimensions, perpetrator_counts
    from warehouse.queries import QueryError

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    try:
        dims = parse_perpetrator_dimensions(by)
        with connect(settings.warehouse, read_only=True) as con:
            cells = perpetrator_counts(con, dims, country and country.upper(), year_from, year_to, threshold)
    except (QueryError, FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    if format is OutputFormat.json:
        rows = [
            {**dict(zip(dims, c.key, strict=True)), "perpetrators": c.victims, "suppressed": c.suppressed}
            for c in cells
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    text_rows = [
        [*(str(k) for k in c.key), "" if c.victims is None else str(c.victims), str(c.suppressed).lower()]
        for c in cells
    ]
    if format is OutputFormat.table:
        text_rows = [[*r[:-2], r[-2] or "<suppressed>"] for r in text_rows]
        _print_rows([*dims, "perpetrators"], text_rows, format, title=f"Perpetrators by {', '.join(dims)}")
    else:
        _print_rows([*dims, "perpetrators", "suppressed"], text_rows, format, title="")


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
    from producers import country_keys
    from producers.pseudonymise import KeyMissing, record_ids_by_pseudonym
    from thbdb.validation_report import open_quarantine
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    country = country.upper()
    try:
        with connect(settings.warehouse, read_only=True) as con:
            entries = open_quarantine(con, country)
        names = record_ids_by_pseudonym(country_keys.migrate(settings, country), country, records) if records else {}
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


@report_app.command("privacy")
def report_privacy() -> None:
    """Write the disclosure-risk report (k-anonymity and l-diversity checked with pycanon,
    records at risk by country, cells suppressed, the public export) and say where it is."""
    from thbdb.privacy_report import write_privacy_report
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    try:
        with connect(settings.warehouse, read_only=True) as con:
            json_path, html_path, report = write_privacy_report(con, settings.reports_dir, settings.min_cell)
    except (FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    w, p, export = report["warehouse"], report["pycanon"], report["public_export"]
    out.print(
        f"Warehouse: {w['records']} victim records, k-anonymity {w['k_anonymity']}, l-diversity {w['l_diversity']}"
    )
    if p.get("checked"):
        verdict = "agrees" if report["pycanon_agrees"] else "[bold red]DISAGREES[/]"
        out.print(f"pycanon: k {p['k_anonymity']}, l {p['l_diversity']}: {verdict}")
    else:
        out.print(f"pycanon: not run ({p['why']})")
    out.print(
        f"Public export at k = {export['k_required']}: {export['records_exported']} of {export['records']} records kept"
    )
    out.print(f"Disclosure-risk report: {html_path} (JSON: {json_path})")


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    htcds = "htcds"
    dp_synthetic = "dp-synthetic"


@app.command("export")
def export(
    format: Annotated[
        ExportFormat,
        typer.Option("--format", help="csv or parquet (aggregate counts), htcds (microdata), dp-synthetic."),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="csv, parquet: the folder to write into; htcds, dp-synthetic: the file.")
    ],
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="csv, parquet: smallest count shown (default 5); 1: all.")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", min=2, help="htcds: k-anonymity (default 11).")] = None,
    epsilon: Annotated[
        float, typer.Option("--epsilon", min=0.01, help="dp-synthetic: privacy loss (default 1.0).")
    ] = 1.0,
) -> None:
    """Export for other tools; nothing exported can single out a victim.

    csv, parquet: the marts' aggregate counts, one file per table (victims by year,
    country and each dimension; perpetrators by year, country and each profile
    dimension) plus manifest.json, small cells suppressed. Never record-level rows.
    htcds: public microdata, one row per victim in CTDC/HTCDS columns, k-anonymous
    (k = 11 by default) by generalising first and suppressing what remains.
    dp-synthetic: synthetic records drawn from a differentially private histogram
    (OpenDP Laplace mechanism) at the stated epsilon; no row is a real victim.
    """
    from thbdb.dp_synthetic import write_dp_synthetic
    from thbdb.htcds_export import write_htcds_export
    from warehouse.exports import export_counts
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    if threshold < 1:
        raise _fail("--min-cell must be at least 1 (1 turns suppression off)")
    try:
        with connect(settings.warehouse, read_only=True) as con:
            if format in (ExportFormat.csv, ExportFormat.parquet):
                written = export_counts(con, format.value, out_path, threshold)
                out.print(f"{len(written) - 1} {format.value} tables and manifest.json written to {out_path}")
                return
            if format is ExportFormat.dp_synthetic:
                synthetic = write_dp_synthetic(con, out_path, epsilon)
                out.print(
                    f"{synthetic.synthetic_records} synthetic records (from {synthetic.true_records} victims) written"
                    f" to {out_path} at epsilon {synthetic.epsilon}; noisy counts under {synthetic.dropped_below}"
                    " dropped"
                )
                errors = ", ".join(f"{k} {v}" for k, v in synthetic.marginal_error.items())
                out.print(f"Mean absolute error of one-way counts against the true ones: {errors}", highlight=False)
                return
            summary = write_htcds_export(con, out_path, k)
    except (FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    s = summary.as_dict()
    out.print(
        f"{s['records_exported']} of {s['records']} victim records exported to {out_path}"
        f" (k = {s['k_required']}, smallest class {s['smallest_class']}; {s['records_suppressed']} suppressed)"
    )
    levels = ", ".join(f"{field} as {level}" for field, level in s["levels"].items())
    out.print(f"Generalised: {levels}", highlight=False)


@report_app.command("analysis")
def report_analysis(
    out_path: Annotated[
        Path | None, typer.Option("--out", help="The HTML file (default: $THBDB_HOME/reports/analysis.html).")
    ] = None,
    min_cell: Annotated[
        int | None, typer.Option("--min-cell", help="Smallest count shown (default 5); 1 turns suppression off.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the trend flags.")] = 0.05,
) -> None:
    """Write the analyst report: one self-contained HTML file (charts inlined, no network
    needed) with the regional picture over time, by country, flagged shifts in trends and
    modus operandi, routes and perpetrator profiles, each chart with its table."""
    from thbdb.analysis_report import write_analysis_report
    from warehouse.loader import WarehouseBusy, connect

    settings = _settings()
    threshold = settings.min_cell if min_cell is None else min_cell
    path = out_path or settings.reports_dir / "analysis.html"
    try:
        with connect(settings.warehouse, read_only=True) as con:
            write_analysis_report(con, path, threshold, alpha)
    except (FileNotFoundError, WarehouseBusy) as error:
        raise _fail(str(error)) from None
    out.print(f"Analyst report: {path}")


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
