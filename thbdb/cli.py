"""The `thbdb` command line: one entry point for operators, analysts and officers."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from config.settings import COUNTRIES, Settings
from release.access import Role

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
query_app = typer.Typer(
    help="Analysts' queries, answered by the hub's release service (protected unless your token is entitled).",
    no_args_is_help=True,
)
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
users_app = typer.Typer(
    help="Identities of the hub's release service: a role (analyst, national, dpo, admin) and a token.",
    no_args_is_help=True,
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
HUB_COMMANDS = frozenset({"run", "stream", "users"})


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

    from thbdb import stack

    settings = _settings()
    if secure:
        settings = settings.model_copy(update={"kafka_secure": True})
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
        "hub_url",
        "hub_running",
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
    handle, keys_ready = None, False
    try:
        if accounts.enforced(settings.accounts) and country in COUNTRIES:
            # Open the export as the user who ran this, put the keys in place, then go on
            # as the country's own account: it can open its keys and nobody else's.
            handle = input.open("rb")
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
                handle=handle,
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


def _count_rows(answer: dict[str, Any], count: str, format: OutputFormat, title: str, every: str) -> None:
    """Count cells as CSV (dimensions, count, suppressed), JSON or a table."""
    dims: list[str] = answer["dimensions"]
    cells = answer["cells"]
    if format is OutputFormat.json:
        rows = [{**dict(zip(dims, c["key"], strict=True)), count: c["count"], "suppressed": c["suppressed"]}
                for c in cells]  # fmt: skip
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*dims, count, "suppressed"])
        for c in cells:
            writer.writerow([*c["key"], "" if c["count"] is None else c["count"], str(c["suppressed"]).lower()])
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*dims, count, title=title)
        for c in cells:
            table.add_row(*(str(k) for k in c["key"]), "<suppressed>" if c["suppressed"] else str(c["count"]))
        out.print(table)
        if any(c["suppressed"] for c in cells):
            secondary = sum(c["secondary"] for c in cells)
            err.print(
                f"cells under {answer['threshold']} {every} are suppressed (--min-cell)"
                + (f", and {secondary} more so that none can be recovered from the totals" if secondary else "")
            )


@query_app.command("counts")
def query_counts(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,country.")],
    country: Annotated[str | None, typer.Option("--country", help="Only this reporting country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (identification).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: MinCellOption = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    totals: Annotated[
        bool, typer.Option("--totals", help="Also show the totals of every dimension (the value 'total').")
    ] = False,
    token: TokenOption = None,
) -> None:
    """Victim counts (distinct persons) grouped by dimensions, small cells suppressed.

    Cells under the threshold are withheld, and so are the cells that would let a
    withheld one be recovered from a total (secondary suppression). Answered by the
    hub's release service, which decides what your token may receive.

    Dimensions: year, month, country, citizenship, sex, age_group, age_band,
    exploitation, recruitment, case_category, identified_by, country_of_exploitation,
    status (presumed or identified; without it a count adds both, withdrawn in neither);
    modus operandi: means_of_control, means_of_travel, means_of_communication,
    recruited_in, trafficking_scope (domestic, cross_border), route (recruited in >
    transit > exploited in), perpetrator_structure, perpetrator_relation (of the
    perpetrators linked to the victim's case). A victim with several codes of a list
    (exploitation, means of ..., perpetrators) counts once under each; one with none
    recorded counts under not_recorded.
    """
    answer = _ask(
        "query/counts",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell,
         "totals": totals},
        token,
    )  # fmt: skip
    dims = answer["dimensions"]
    counted = "" if "status" in dims else f" ({COUNTED_STATUSES})"
    _count_rows(answer, "victims", format, f"Victims{counted} by {', '.join(dims)}", "victims")


@query_app.command("links")
def query_links(
    by: Annotated[str, typer.Option("--by", help="Comma-separated: pair, year, country.")] = "pair,year",
    country: Annotated[str | None, typer.Option("--country", help="Only persons found in this country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (first identification).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: MinCellOption = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Cross-border persons: victims that privacy-preserving linkage found in two or more
    countries, by country pair (e.g. MK-RS), year of first identification in the region,
    or country. A person in three countries counts under each of its pairs. Small cells
    are suppressed as in `query counts`; the total comes last (CSV and JSON: a row with
    every dimension set to `total`). Never exact for a national officer.
    """
    answer = _ask(
        "query/links",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell},
        token,
    )
    dims = answer["dimensions"]
    answer["cells"][-1]["key"] = ["total"] * len(dims)  # the last cell is the total
    _count_rows(answer, "victims", format, f"Cross-border persons by {', '.join(dims)}", "persons")


class TrendPeriod(StrEnum):
    year = "year"
    quarter = "quarter"


# The contract's first seven columns, then the tests: the change's (p, q after control) and
# the series' (test, slope with its interval, p, q), the same on each row of a series.
# Which victims a count adds when status is neither a dimension nor a filter.
COUNTED_STATUSES = "presumed and identified"
TREND_COLUMNS = ["period", "country", "category", "victims", "share", "change", "flagged", "p_value", "direction",
                 "period_victims", "suppressed", "q_value", "test", "slope", "slope_low", "slope_high",
                 "trend_p_value", "trend_q_value", "alarm"]  # fmt: skip
_TREND_TABLE_COLUMNS = ["period", "country", "category", "victims", "share", "change", "flagged", "direction",
                        "alarm"]  # fmt: skip
_TREND_DIGITS = {"share": 4, "change": 4, "p_value": 4, "q_value": 4, "slope": 3, "slope_low": 3, "slope_high": 3,
                 "trend_p_value": 4, "trend_q_value": 4}  # fmt: skip


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
    flagged_only: Annotated[bool, typer.Option("--flagged-only", help="Only flagged rows.")] = False,
    min_cell: MinCellOption = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Share of each category of a dimension per period and country, its change against
    the previous period, the trend of the whole series, and a flag where either is
    unlikely to be chance after false-discovery control (q < --alpha).

    The change is tested with Fisher's exact test, the series with the Cochran-Armitage
    test (its slope: the log-odds of the share per period, with a 95 % interval); all the
    query's p-values are adjusted together (Benjamini-Hochberg). Without --country, rows
    for each reporting country and for the region (ALL). A suppressed cell has empty
    victims and share; a change is shown only when neither period's cell is suppressed.
    Beside the tests, `alarm` names the EARS methods (C1, C2, C3) that find the count
    high against the country's seven periods before. CSV columns: period, country,
    category, victims, share, change, flagged, then p_value, direction, period_victims,
    suppressed, q_value, test, slope, slope_low, slope_high, trend_p_value,
    trend_q_value, alarm.
    """
    answer = _ask(
        "query/trends",
        {"dimension": dimension, "country": _upper(country), "period": period.value, "filter": filter,
         "year_from": year_from, "year_to": year_to, "alpha": alpha, "min_cell": min_cell},
        token,
    )  # fmt: skip
    cells = [c for c in answer["rows"] if c["flagged"] or not flagged_only]
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps([{k: c[k] for k in TREND_COLUMNS} for c in cells], indent=2) + "\n")
        return

    def shown(column: str, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        if column in _TREND_DIGITS:
            return f"{value:.{_TREND_DIGITS[column]}f}"
        return str(value)

    # A terminal shows what moved and whether it is flagged; CSV and JSON carry the tests.
    columns = _TREND_TABLE_COLUMNS if format is OutputFormat.table else TREND_COLUMNS
    text_rows = [[shown(k, c.get(k)) for k in columns] for c in cells]
    if format is OutputFormat.table:
        for row in text_rows:
            row[3] = row[3] or "<suppressed>"
            row[6] = "FLAGGED" if row[6] == "true" else ""
    statuses = (filter or "").split("status=")[1].split(",")[0] if "status=" in (filter or "") else COUNTED_STATUSES
    counted = "" if dimension == "status" else f", {statuses} victims"
    _print_rows(columns, text_rows, format, title=f"Trends of {dimension} by {period.value}{counted}")


ESTIMATE_COLUMNS = ["country", "year_from", "year_to", "observed", "estimate", "lower", "upper", "lists", "model"]


@query_app.command("estimate")
def query_estimate(
    country: Annotated[str, typer.Option("--country", help="The reporting country whose victims are estimated.")],
    year_from: Annotated[int | None, typer.Option("--from", help="First year (identification).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """How many victims there are, those never identified included: a multiple systems
    estimate from how the lists of the agencies that met each victim overlap (the
    export's recorded_by, v1.1), with its 95 % interval.

    A Poisson log-linear model with a term for victims' differing visibility and the
    interactions between lists that AIC keeps; the interval is the profile likelihood's.
    Counts presumed and identified victims. Exact for the admin and a national officer of
    its own --country; for anyone else the observed number is protected as in `query
    counts` and the estimate and interval are rounded to the nearest 10. Refused (exit
    2, with the reason) when the data cannot support an estimate: fewer than three
    lists, or too little overlap between them. JSON: an object with observed, estimate,
    lower, upper, lists, model, assumptions. docs/analyst.md says what it assumes and how
    it did on simulated populations of known size.
    """
    answer = _ask("query/estimate", {"country": country.upper(), "year_from": year_from, "year_to": year_to}, token)
    document = {k: v for k, v in answer.items() if k not in ("release", "identity")}
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    row = {**document, "lists": ";".join(document["lists"])}
    if format is OutputFormat.csv:
        _print_rows(ESTIMATE_COLUMNS, [["" if row[k] is None else str(row[k]) for k in ESTIMATE_COLUMNS]], format, "")
        return
    years = f"{year_from or 'first'}-{year_to or 'last'}" if year_from or year_to else "all years"
    table = Table("", "", title=f"Estimated victims of {row['country']}, {years} (presumed and identified)")
    observed = "<suppressed>" if row["observed"] is None else str(row["observed"])
    table.add_row("recorded", observed + ("" if answer.get("exact") else " (protected)"))
    rounded = "" if answer.get("exact") else " (rounded to 10)"
    table.add_row("estimated", f"{row['estimate']}{rounded}")
    table.add_row("95 % interval", f"{row['lower']} to {row['upper']}")
    table.add_row("lists", ", ".join(document["lists"]))
    table.add_row("model", row["model"])
    out.print(table)
    err.print("Assumes: " + "; ".join(document["assumptions"]) + ".")


@query_app.command("perpetrators")
def query_perpetrators(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,role.")],
    country: Annotated[str | None, typer.Option("--country", help="Only this reporting country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (registration).")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year.")] = None,
    min_cell: MinCellOption = None,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Perpetrator profiles: distinct perpetrators by dimensions, small cells suppressed.

    Dimensions: year, country, status, sex, citizenship, age_group, age_band, role,
    structure, relation_to_victim, linked_to_victim. One with several roles counts once
    under each. CSV: one column per dimension, then perpetrators, then suppressed.
    """
    answer = _ask(
        "query/perpetrators",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell},
        token,
    )
    dims = answer["dimensions"]
    if format is OutputFormat.table:
        rows = [[*(str(k) for k in c["key"]), "<suppressed>" if c["suppressed"] else str(c["count"])]
                for c in answer["cells"]]  # fmt: skip
        _print_rows([*dims, "perpetrators"], rows, format, title=f"Perpetrators by {', '.join(dims)}")
    else:
        _count_rows(answer, "perpetrators", format, "", "perpetrators")


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
    token: TokenOption = None,
) -> None:
    """Events of a country that validation refused, with the reasons.

    The hub sends a national officer (or a data-protection officer) of the country its
    own entries: pseudonyms, positions and reasons. With --records (an export holding the
    record ids), each pseudonym is matched to its national record_id on this machine,
    with the country's key: fix the record and push it again, and the entry shows as
    resolved. Nothing here opens the warehouse.
    """
    from producers import country_keys
    from producers.pseudonymise import KeyMissing, record_ids_by_pseudonym

    settings = _settings()
    country = country.upper()
    entries = _ask("quarantine", {"country": country}, token)["entries"]
    try:
        names = record_ids_by_pseudonym(country_keys.migrate(settings, country), country, records) if records else {}
    except (KeyMissing, FileNotFoundError, PermissionError) as error:
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


ReportOut = Annotated[
    Path | None,
    typer.Option("--out", help="The folder to write into (default: $THBDB_HOME/reports for the local hub, else .)."),
]


@report_app.command("validation")
def report_validation(
    country: Annotated[
        str | None, typer.Option("--country", help="One country only (a national officer's is always its own).")
    ] = None,
    out_dir: ReportOut = None,
    token: TokenOption = None,
) -> None:
    """Write the validation report (pass rates per country, quarantine by reason) and
    say where it and the redacted Great Expectations Data Docs are. For data-protection
    officers (a national one: its country's) and the administrator."""
    answer = _ask("report/validation", {"country": _upper(country)}, token)
    path = _save(answer, out_dir, "validation.html")
    report = answer["report"]
    table = Table(
        "day", "country", "events", "failed", "pass rate", "held back", title="Validation per country and day"
    )
    for h in report["pass_rates"][-30:]:
        rate = "" if h["pass_rate"] is None else f"{h['pass_rate']:.1%}"
        table.add_row(h["day"], h["country"], str(h["events"]), str(h["failed"]), rate, str(h["batches_held_back"]))
    out.print(table)
    out.print(f"Validation report: {path}")
    out.print(f"Data Docs (redacted, no sample values; on the hub): {report['data_docs']}")


@report_app.command("privacy")
def report_privacy(out_dir: ReportOut = None, token: TokenOption = None) -> None:
    """Write the disclosure-risk report (k-anonymity and l-diversity checked with pycanon,
    records at risk by country, cells suppressed, the public export) and say where it is.
    For data-protection officers and the administrator."""
    answer = _ask("report/privacy", {}, token)
    html_path = _save(answer, out_dir, "privacy.html")
    report = answer["report"]
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
    out.print(f"Disclosure-risk report: {html_path} (JSON: {html_path.with_suffix('.json')})")


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
    min_cell: MinCellOption = None,
    k: Annotated[
        int | None, typer.Option("--k", min=2, help="htcds: k-anonymity (default: the policy's 11; lower: admin only).")
    ] = None,
    epsilon: Annotated[
        float, typer.Option("--epsilon", min=0.01, help="dp-synthetic: privacy loss (default 1.0, capped by policy).")
    ] = 1.0,
    token: TokenOption = None,
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
    from release.client import files, write_files

    if min_cell is not None and min_cell < 1:
        raise _fail("--min-cell must be at least 1 (1 turns suppression off)")
    body: dict[str, object] = {"format": format.value, "min_cell": min_cell, "k": k}
    if format is ExportFormat.dp_synthetic:
        body["epsilon"] = epsilon
    answer = _ask("export", body, token)
    if format in (ExportFormat.csv, ExportFormat.parquet):
        write_files(answer, out_path)
        out.print(f"{answer['tables']} {format.value} tables and manifest.json written to {out_path}")
        return
    (data,) = files(answer).values()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(data)
    s = answer["summary"]
    if format is ExportFormat.dp_synthetic:
        out.print(
            f"{s['synthetic_records']} synthetic records (from {s['true_records']} victims) written"
            f" to {out_path} at epsilon {s['epsilon']}; noisy counts under {s['dropped_below']} dropped"
        )
        errors = ", ".join(f"{key} {value}" for key, value in s["marginal_error"].items())
        out.print(f"Mean absolute error of one-way counts against the true ones: {errors}", highlight=False)
        return
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
    min_cell: MinCellOption = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the trend flags.")] = 0.05,
    token: TokenOption = None,
) -> None:
    """Write the analyst report: one self-contained HTML file (charts inlined, no network
    needed) with the regional picture over time, by country, flagged shifts in trends and
    modus operandi, routes and perpetrator profiles, each chart with its table."""
    from release.client import files

    answer = _ask("report/analysis", {"min_cell": min_cell, "alpha": alpha}, token)
    if out_path is None:
        out_path = _save(answer, None, "analysis.html")
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(files(answer)["analysis.html"])
    out.print(f"Analyst report: {out_path}")


@app.command("check-table")
def check_table(
    table: Annotated[Path, typer.Argument(help="A published table: country,year,dimension,category,victims.")],
    token: TokenOption = None,
) -> None:
    """Check a published aggregate table: rows whose parts do not add up to the total,
    and cells the warehouse does not reproduce. Exit 1 if the warehouse differs.

    Compared with exact counts for the administrator and for the national officer of
    the table's country; for anyone else with the protected counts, and cells the hub
    withholds are not compared."""
    from dataclasses import asdict

    from transforms.published_tables import TableRejected, read_published_table

    try:
        cells = read_published_table(table)
    except (TableRejected, FileNotFoundError) as error:
        raise _fail(f"{table.name}: {error}") from None
    answer = _ask("check-table", {"cells": [asdict(c) for c in cells]}, token)
    inconsistencies, differences = answer["inconsistencies"], answer["differences"]
    out.print(f"[bold]{table.name}[/]: {len(cells)} cells")
    out.print(f"Rows that do not add up within the published table: {len(inconsistencies)}")
    for item in inconsistencies:
        out.print(f"  {item['severity']}: {item['text']}", highlight=False)
    out.print(f"Cells the warehouse does not reproduce: {len(differences)}")
    for difference in differences:
        out.print(f"  {difference}", highlight=False)
    if answer["not_compared"]:
        out.print(f"Cells not compared (the warehouse's count is withheld for {answer['identity']}): "
                  f"{answer['not_compared']}")  # fmt: skip
    if differences:
        raise typer.Exit(1)


class ErasedKind(StrEnum):
    victims = "victims"
    perpetrators = "perpetrators"


@app.command()
def erase(
    country: Annotated[str, typer.Option("--country", help="Your country: the records are its.")],
    records: Annotated[
        Path,
        typer.Option(
            "--records",
            help="A file of national record ids: one per line, or a CSV with a record_id column.",
            exists=True,
            dir_okay=False,
        ),
    ],
    kind: Annotated[ErasedKind, typer.Option("--kind", help="victims or perpetrators.")] = ErasedKind.victims,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    token: TokenOption = None,
) -> None:
    """Erase records from the hub, for a court order or a data subject's request.

    The record ids become pseudonyms here, with your country's key; only those go to
    the hub, with a national officer's token of your country. The hub removes every
    version of the records from the topic, the raw layer, the linkage store, the marts,
    the release snapshots and the quarantine, rewrites its database files, and drops the
    records if they are pushed again. It cannot be undone. Remove the records from your
    national export too: each push of them is dropped at the hub (counted as erased).
    """
    from producers import country_keys
    from producers.erasure_list import ErasureListRejected, pseudonyms, record_ids
    from producers.pseudonymise import KeyMissing

    settings = _settings()
    country = country.upper()
    if country not in COUNTRIES:
        raise _fail(f"unknown country {country!r}; one of {', '.join(COUNTRIES)}")
    try:
        ids = record_ids(records)
        refs = pseudonyms(country_keys.migrate(settings, country), country, kind.value, ids)
    except (ErasureListRejected, KeyMissing, PermissionError) as error:
        raise _fail(str(error)) from None
    if not yes and not typer.confirm(f"Erase {len(refs)} {kind.value} record(s) of {country} from the hub, for good?"):
        raise _fail("nothing erased", code=1)
    answer = _ask("erase", {"country": country, "kind": kind.value, "record_refs": refs}, token)
    erased = answer["erased"]
    table = Table(
        "store", "removed", title=f"{country}: {erased['found']} of {erased['records']} records found and erased"
    )
    table.add_row("raw layer: record versions", str(erased["versions"]))
    table.add_row("quarantine: entries", str(erased["quarantined"]))
    table.add_row("linkage store: encodings", str(erased["encodings"]))
    table.add_row("release snapshots: older ones deleted", str(erased["snapshots_deleted"]))
    table.add_row("database files rewritten", str(erased["files_rewritten"]))
    table.add_row("Kafka: waiting events of the records, dropped", str(erased["dropped_waiting"]))
    out.print(table)
    out.print(
        f"Marts rebuilt and a new release published. The broker's files hold no event of these records after"
        f" {erased['broker_clear_by']} (the stated erasure time). Pushed again, they are dropped at load."
    )


@app.command("audit")
def audit(
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the last N requests.")] = 50,
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """The release service's audit log: who asked what, when, the outcome, and how many
    cells were withheld. For data-protection officers (a national one: its country's
    identities) and the administrator."""
    entries = _ask("audit", {"last": last}, token)["entries"]
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return
    columns = ["at", "who", "role", "country", "operation", "outcome", "cells", "withheld", "parameters"]
    rows = [
        [str(e.get(c, "") if e.get(c) is not None else "") if c != "parameters" else json.dumps(e.get(c, {}))
         for c in columns]
        for e in entries
    ]  # fmt: skip
    _print_rows(columns, rows, format, title="Release service: audit log")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Who the token is for, e.g. ana.analyst or rs-officer.")],
    role: Annotated[Role, typer.Option("--role", help="analyst, national, dpo or admin.")],
    country: Annotated[
        str | None, typer.Option("--country", help="A national officer's country; a national dpo's.")
    ] = None,
) -> None:
    """Make an identity for the release service; its token is printed once, on the last
    line. Only its hash is kept. It expires after the policy's token_days."""
    from release import identities
    from transforms.disclosure import load_policy

    settings = _settings()
    if country and country.upper() not in COUNTRIES:
        raise _fail(f"unknown country {country!r}; one of {', '.join(COUNTRIES)}")
    days = load_policy().token_days
    try:
        token = identities.add(settings.hub_secrets_dir, name, role, _upper(country), days)
    except identities.IdentityError as error:
        raise _fail(str(error)) from None
    scope = f" of {country.upper()}" if country else ""
    err.print(f"{name}: {role.value}{scope}, token valid {days} days. It is shown once: hand it over safely.")
    sys.stdout.write(token + "\n")


@users_app.command("list")
def users_list(
    format: Annotated[OutputFormat, typer.Option("--format", help="table, csv or json.")] = OutputFormat.table,
) -> None:
    """The identities of the release service and their state (never their tokens)."""
    from datetime import UTC, datetime

    from release import identities

    now = datetime.now(UTC)
    columns = ["name", "role", "country", "state", "created_at", "expires_at", "revoked_at"]
    rows = [[u.name, u.role, u.country or "", u.state(now), u.created_at, u.expires_at, u.revoked_at or ""]
            for u in identities.listed(_settings().hub_secrets_dir)]  # fmt: skip
    _print_rows(columns, rows, format, title="Release service identities")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="The identity to end.")]) -> None:
    """End an identity: its token gets nothing from the next request on."""
    from release import identities

    try:
        user = identities.revoke(_settings().hub_secrets_dir, name)
    except identities.IdentityError as error:
        raise _fail(str(error)) from None
    out.print(f"{user.name}: revoked at {user.revoked_at}")


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
