"""`thbdb demo`: the main job on a fresh machine, start to finish."""

from __future__ import annotations

import os
import pickle
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from config.settings import Settings
from disclosure.perturbation import Perturbation
from disclosure.policy import load_policy
from producers import country_keys
from producers.demo_exports import write_demo_exports
from producers.push import PushReport, push_export
from release import snapshot
from reports.analysis import write_analysis_report
from reports.data_protection import write_data_protection_report
from thbdb import accounts, airflow_stack, stack
from warehouse.estimate import EstimateRefused, country_estimate, rounded
from warehouse.protected_counts import protected_link_counts, protected_victim_counts
from warehouse.queries import CountCell
from warehouse.trends import trend_cells


def countries_of(by_year: list[CountCell]) -> list[str]:
    return sorted({str(c.key[1]) for c in by_year})


def run_demo(settings: Settings, seed: int, out: Console, err: Console, exports_dir: Path | None = None) -> None:
    """Start the stack, push synthetic exports for six countries, run, report.

    The synthetic national exports hold (fake) names, as real ones do; they are the
    operators' input, not the hub's state, so they are written outside $THBDB_HOME: to
    ``exports_dir`` if given, else to a temporary folder removed after the push.
    """
    with err.status("starting the stack: Kafka broker (KRaft) and Airflow…"):
        started = stack.up(settings)
    err.print(f"stack up ({', '.join(started) or 'already running'}); home {settings.home}")
    if exports_dir is None:
        with tempfile.TemporaryDirectory(prefix="thbdb-national-exports-") as temporary:
            reports = _push_demo(settings, seed, err, Path(temporary))
    else:
        reports = _push_demo(settings, seed, err, exports_dir)
    if accounts.enforced(settings.accounts):
        # The rest (run, reports) is the hub's work: done as the hub's account, once the
        # exports, which hold (fake) names, are gone.
        accounts.become(accounts.ensure(accounts.HUB))
    _after_pushes(settings, reports, out, err)


def _push_demo(settings: Settings, seed: int, err: Console, export_dir: Path) -> list[PushReport]:
    files = write_demo_exports(export_dir, seed=seed)
    total_files = sum(len(f) for f in files.values())
    err.print(f"wrote {total_files} synthetic monthly exports for {len(files)} countries under {export_dir}")

    if accounts.enforced(settings.accounts):
        with err.status("national operators pushing their exports, each country as its own account…"):
            return _push_as_countries(settings, files)
    return _push_in_threads(settings, files, err)


def _push_in_threads(settings: Settings, files: dict[str, list[Path]], err: Console) -> list[PushReport]:
    total_files = sum(len(f) for f in files.values())
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("national operators pushing their exports", total=total_files)

        def push_country(country: str) -> list[PushReport]:
            # Each country's operator pushes its months in order; countries push at once.
            reports = []
            for path in files[country]:
                reports.append(push_export(settings, country, path, create_key=True))
                progress.advance(task)
            return reports

        with ThreadPoolExecutor(max_workers=len(files)) as pool:
            return [r for rs in pool.map(push_country, files) for r in rs]


def _push_as_countries(settings: Settings, files: dict[str, list[Path]]) -> list[PushReport]:
    """With accounts on: each country's months pushed by a child process that took on
    that country's account (a process changes account once, so one child a country).
    The exports are opened first, as the demo's own user."""
    children: dict[str, tuple[int, int]] = {}
    for country, paths in files.items():
        account = accounts.country_for(settings, country, country_keys.prepare(settings, country, create=True))
        assert account is not None
        exports = [(path, path.open("rb")) for path in paths]
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: this country's operator
            status = 1
            try:
                os.close(read_end)
                accounts.become(account)
                pushed = [push_export(settings, country, p, handle=h, keys_ready=True) for p, h in exports]
                with os.fdopen(write_end, "wb") as pipe:
                    pickle.dump(pushed, pipe)
                status = 0
            except BaseException:  # noqa: BLE001 - the child must reach os._exit, whatever went wrong
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(write_end)
        for _path, handle in exports:
            handle.close()  # the child reads its own copy
        children[country] = (pid, read_end)
    reports: list[PushReport] = []
    for country, (pid, read_end) in children.items():
        with os.fdopen(read_end, "rb") as pipe:
            sent = pipe.read()
        _pid, status = os.waitpid(pid, 0)
        if status != 0 or not sent:
            raise RuntimeError(f"{country}: the push failed (see above)")
        reports.extend(pickle.loads(sent))  # noqa: S301 - from our own child, through a pipe
    return reports


def _after_pushes(settings: Settings, reports: list[PushReport], out: Console, err: Console) -> None:
    for report in reports:
        for refusal in report.refused:
            err.print(f"  {report.country} {report.source}: {refusal}", markup=False, highlight=False)
    published = sum(r.published for r in reports)
    refused = sum(r.refused_rows for r in reports)
    err.print(f"pushed: {published} rows published, {refused} rows refused")

    with err.status("running the pipeline in Airflow…"):
        result = airflow_stack.run_pipeline(settings)
    out.print(result.summary_line())
    if not result.succeeded:
        raise RuntimeError("the pipeline failed; see the Airflow UI at " + settings.airflow_url)

    # What the release service answers from: the snapshot the run just published.
    # Protected as every output of the hub is by default (disclosure/perturbation.py).
    protection = Perturbation.of(load_policy(), settings.min_cell)
    with snapshot.open_current(settings) as con:
        by_year = protected_victim_counts(con, ["year", "country"], protection)
        forms = protected_victim_counts(con, ["exploitation"], protection)
        _pairs, cross_border = protected_link_counts(con, ["pair"], protection)
        analysis = write_analysis_report(
            con, settings.reports_dir / "analysis.html", settings.min_cell, 0.05, protection
        )
        minors = trend_cells(con, "exploitation", filters={"age_group": "minor"}, protection=protection)
        estimates = {}
        for country in countries_of(by_year):
            try:
                found = country_estimate(con, country)
                estimates[country] = f"{rounded(found.estimate)} ({rounded(found.lower)}-{rounded(found.upper)})"
            except EstimateRefused:
                estimates[country] = "none (see the report)"
        dp_json, dp_html = write_data_protection_report(con, settings.reports_dir, settings.min_cell)

    countries = countries_of(by_year)
    table = Table(
        "year",
        *countries,
        title=f"Victims by year and reporting country (x: withheld, under {settings.min_cell} or to protect one;"
        " counts perturbed slightly)",
    )
    for year in sorted({c.key[0] for c in by_year}):
        row = {str(c.key[1]): ("x" if c.suppressed else str(c.victims)) for c in by_year if c.key[0] == year}
        table.add_row(str(year), *(row.get(c, "0") for c in countries))
    out.print(table)
    top = sorted((c for c in forms if not c.suppressed), key=lambda c: -(c.victims or 0))[:5]
    out.print("Top exploitation forms: " + ", ".join(f"{c.key[0]} {c.victims}" for c in top))
    shown = f"under {settings.min_cell}" if cross_border.suppressed else str(cross_border.victims)
    out.print(f"Persons identified in two countries or more (linkage): {shown}; see `thbdb query links`")
    shifts = [c for c in minors if c.change_flagged and not c.suppressed and c.country != "ALL"]
    # A cell withheld under protection carries no flag (it would point at what is withheld).
    withheld = "; a withheld cell carries none: the admin sees them with `thbdb query trends --min-cell 1`"
    out.print(
        "Flagged shifts in exploitation of minors (thbdb query trends): "
        + (", ".join(f"{c.country} {c.category} {c.direction} in {c.period} to {c.victims}" for c in shifts) or "none")
        + (withheld if any(c.suppressed for c in minors) else "")
    )
    sustained = sorted({(c.country, c.category, c.direction) for c in minors if c.trend_flagged and c.country != "ALL"})
    out.print(
        "Sustained trends in exploitation of minors, over every year: "
        + (", ".join(f"{country} {category} {direction}" for country, category, direction in sustained) or "none")
    )
    out.print(
        "Estimated victims, those never identified included (thbdb query estimate; 95 % interval, rounded to"
        " 10): " + ", ".join(f"{country} {text}" for country, text in estimates.items())
    )
    out.print(f"Warehouse:              {settings.warehouse}")
    out.print(f"Analyst report:         {analysis}")
    out.print(f"Data-protection report: {dp_html} (and {dp_json.name})")
    out.print(f"Disclosure-risk report: {settings.reports_dir / 'privacy.html'} (and privacy.json)")
    out.print(f"Release service:        {settings.hub_url}   (query, report, export: `thbdb --help`)")
    out.print(
        f"In a browser:           {settings.hub_url}/ui/   (sign in with a token: `thbdb users add ana --role"
        " analyst` prints one; the browser warns once about the hub's own CA, hub-ca.pem)"
    )
    out.print(
        f"Airflow UI:             {settings.airflow_url}   (user thbdb, password in"
        f" {settings.airflow_home / 'passwords.json'}; stop everything with `thbdb down`)"
    )
