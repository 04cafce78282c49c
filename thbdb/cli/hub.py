"""`thbdb` for whoever runs the hub on this machine: the stack (up, down, status), the
pipeline (run, stream), the release service's identities (users), and the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from config.settings import COUNTRIES, Settings
from release.access import Role
from thbdb.cli.common import (
    FormatOption,
    OutputFormat,
    StatusFormat,
    _fail,
    _print_rows,
    _settings,
    _upper,
    app,
    err,
    out,
    stream_app,
    users_app,
)


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
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="The deployed form on this machine: three Kafka brokers (replication 3), Airflow on PostgreSQL"
            " with the Celery executor, Redis and two workers, and a supervisor that restarts what exits"
            " (needs a fresh THBDB_HOME; the home stays a cluster afterwards).",
        ),
    ] = False,
) -> None:
    """Start the local stack (Kafka broker, Airflow) and wait until it answers. Idempotent."""

    from thbdb import stack

    settings = _settings()
    if secure:
        settings = settings.model_copy(update={"kafka_secure": True})
    try:
        what = (
            "the cluster (3 Kafka brokers, PostgreSQL, Redis, Airflow with Celery)"
            if cluster
            else "the stack (Kafka, Airflow)"
        )
        with err.status(f"starting {what}…"):
            started = stack.up(settings, airflow=not no_airflow, cluster_profile=cluster)
        settings = _settings()
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
        "profile",
        "kafka_bootstrap",
        "kafka_running",
        "airflow_url",
        "airflow_running",
        "streaming",
        "hub_url",
        "hub_pages",
        "hub_running",
        "warehouse",
        "accounts",
    )
    for key in keys:
        table.add_row(key, str(info[key]))
    if "cluster" in info:  # the cluster profile: every process and whether it runs
        cluster = info["cluster"]
        assert isinstance(cluster, dict)
        brokers = cluster["brokers"]
        table.add_row("kafka_brokers", f"{info['kafka_brokers_answering']} of {len(brokers)} answering")
        running = info["processes"]
        assert isinstance(running, dict)
        for name, pid in running.items():
            table.add_row(f"  {name}", f"pid {pid}" if pid else "not running")
    out.print(table)


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


@app.command()
def rebuild() -> None:
    """Rebuild every mart from the raw layer, relink every person, and publish a whole
    release snapshot.

    Each load brings the marts up to date with the records it touched only; this builds
    them again from every record (after restoring a backup, or to check them), which
    holds the warehouse for minutes on millions of victims: loads wait meanwhile."""
    from pipeline.drain import publish_marts
    from warehouse.loader import WarehouseBusy

    settings = _settings()
    if not settings.warehouse.exists():
        raise _fail(f"no warehouse at {settings.warehouse}: run `thbdb run` (or `thbdb demo`) first")
    try:
        with err.status("rebuilding the marts from every record, relinking every person…"):
            done = publish_marts(settings, full=True)
    except WarehouseBusy as error:
        raise _fail(str(error), code=1) from None
    linked = done.linked
    relinked = f", {len(linked.dirty)} linkage blocks relinked" if linked is not None else ""
    out.print(f"rebuilt the marts (generation {done.generation}){relinked}; a whole release snapshot is current")


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


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Who the token is for, e.g. ana.analyst or rs-officer.")],
    role: Annotated[Role, typer.Option("--role", help="analyst, national, dpo or admin.")],
    country: Annotated[
        str | None, typer.Option("--country", help="A national officer's country; a national dpo's.")
    ] = None,
) -> None:
    """Make an identity for the release service; its token is printed once, on the last
    line. Only its hash is kept. It expires after the policy's token_days. The same token
    signs in to the hub's pages in a browser (/ui/ on the hub's address)."""
    from disclosure.policy import load_policy
    from release import identities

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
    err.print(f"It signs in to the command line (THBDB_TOKEN) and to the hub's pages, {settings.hub_url}/ui/")
    sys.stdout.write(token + "\n")


@users_app.command("list")
def users_list(
    format: FormatOption = OutputFormat.table,
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
