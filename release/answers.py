"""What each request of the release service is answered with, computed on a snapshot.

Every function takes the identity that asked, decides with ``release.access`` what it
may have (raising ``Refused`` otherwise), computes on the snapshot and returns an
``Answer``: the JSON document sent back, and how many cells it held and withheld (for
the audit log, which never sees the counts themselves).
"""

from __future__ import annotations

import base64
import functools
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from config.settings import Settings
from disclosure.perturbation import Perturbation
from disclosure.policy import DisclosurePolicy
from disclosure.suppression import CountCell
from release import access, ledger
from release.access import Identity
from transforms.published_tables import PublishedCell, find_inconsistencies
from warehouse.link_queries import link_counts
from warehouse.protected_counts import BeyondTheGrid, perpetrator_cells, protected_link_counts, victim_cells
from warehouse.queries import Scope


@dataclass
class Answer:
    document: dict[str, Any]
    cells: int = 0
    withheld: int = 0
    exact: bool = False  # computed below the policy's threshold (an entitled role)
    epsilon: float | None = None  # privacy loss spent (differentially private releases)
    files: dict[str, bytes] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        files = {name: base64.b64encode(data).decode("ascii") for name, data in self.files.items()}
        return {**self.document, "exact": self.exact, **({"files": files} if files else {})}


@dataclass(frozen=True)
class Context:
    """What every answer needs besides the request: who asked, the policy, the hub."""

    who: Identity
    policy: DisclosurePolicy
    settings: Settings

    @property
    def min_cell(self) -> int:
        # The hub may raise the policy's threshold (THBDB_MIN_CELL), never lower it.
        return max(self.policy.min_cell, self.settings.min_cell)

    def protection(self, threshold: int) -> Perturbation | None:
        """How counts at ``threshold`` leave: perturbed (disclosure/perturbation.py), unless
        the threshold is under the policy's, which only the entitled roles get."""
        if threshold < self.min_cell:
            return None
        return Perturbation.of(self.policy, threshold)


# What answers an operation: from a snapshot, for an identity, the request's parameters.
Computation = Callable[[duckdb.DuckDBPyConnection, "Context", dict[str, Any]], Answer]


def _within_the_grid(compute: Computation) -> Computation:
    """What the grid of protected counts does not hold (disclosure/perturbation.py) is
    refused naming the role: only exact counts, for those entitled, go beyond it."""

    @functools.wraps(compute)
    def answer(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
        try:
            return compute(con, ctx, request)
        except BeyondTheGrid as error:
            raise access.Refused(
                f"{ctx.who}: {error}; the others are exact counts, for the admin or a national officer of its own"
                " --country (--min-cell under the threshold)"
            ) from None

    return answer


def _cells(cells: Iterable[CountCell]) -> list[dict[str, Any]]:
    return [{"key": list(c.key), "count": c.victims, "suppressed": c.suppressed, "secondary": c.secondary}
            for c in cells]  # fmt: skip


def _answer(cells: list[CountCell], threshold: int, ctx: Context, **more: Any) -> Answer:
    return Answer(
        {"cells": _cells(cells), "threshold": threshold, **more},
        cells=len(cells),
        withheld=sum(c.suppressed for c in cells),
        exact=threshold < ctx.min_cell,
    )


def _scope(request: dict[str, Any]) -> Scope:
    """--country, --from and --to of a request."""
    return Scope(request.get("country"), request.get("year_from"), request.get("year_to"))


@_within_the_grid
def counts(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from warehouse.queries import parse_dimensions

    dims = parse_dimensions(request["by"])
    scope = _scope(request)
    threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"), scope.country, tuple(dims))
    cells = victim_cells(con, dims, scope, threshold, bool(request.get("totals")), ctx.protection(threshold))
    return _answer(cells, threshold, ctx, dimensions=dims)


def links(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from warehouse.link_queries import parse_link_dimensions

    dims = parse_link_dimensions(request["by"])
    scope = _scope(request)
    threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"), scope.country, linkage=True)
    protection = ctx.protection(threshold)
    if protection is None:
        cells, total = link_counts(con, dims, scope, threshold)
    else:
        cells, total = protected_link_counts(con, dims, protection, scope)
    return _answer([*cells, total], threshold, ctx, dimensions=dims)


@_within_the_grid
def perpetrators(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from warehouse.perpetrators import parse_perpetrator_dimensions

    dims = parse_perpetrator_dimensions(request["by"])
    scope = _scope(request)
    threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"), scope.country, tuple(dims))
    cells = perpetrator_cells(con, dims, scope, threshold, ctx.protection(threshold))
    return _answer(cells, threshold, ctx, dimensions=dims)


@_within_the_grid
def trends(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from warehouse.trends import parse_filters, trend_cells

    filters = parse_filters(request.get("filter"))
    scope = _scope(request)
    dimension = request["dimension"]
    threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"), scope.country, (dimension, *filters))
    alpha = float(request.get("alpha", 0.05))
    period = request.get("period", "year")
    cells = trend_cells(con, dimension, scope, period, threshold, filters, alpha, ctx.protection(threshold))
    rows = [vars(c) for c in cells]
    return Answer(
        {"rows": rows, "threshold": threshold},
        cells=len(rows),
        withheld=sum(c.suppressed for c in cells),
        exact=threshold < ctx.min_cell,
    )


def estimate(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    """The multiple systems estimate of a country's victims (warehouse/estimate.py), fitted
    on exact counts. Exact for those entitled to the country's exact counts; for anyone
    else the observed number is the protected count of `query counts` and the estimate and
    its interval are rounded to the nearest 10, the lists named without their sizes."""
    from warehouse.estimate import ASSUMPTIONS, ESTIMATE_ROUNDING, country_estimate, rounded

    country = request["country"]
    first, last = request.get("year_from"), request.get("year_to")
    found = country_estimate(con, country, first, last)
    exact = access.exact_estimate(ctx.who, country)
    document: dict[str, Any] = {
        "country": country,
        "year_from": first,
        "year_to": last,
        "statuses": ["presumed", "identified"],
        "lists": list(found.lists),
        "model": found.model,
        "assumptions": list(ASSUMPTIONS),
    }
    if exact:
        document |= {
            "observed": found.observed,
            "estimate": round(found.estimate, 1),
            "lower": round(found.lower, 1),
            "upper": round(found.upper, 1),
            "list_sizes": dict(zip(found.lists, found.list_sizes, strict=True)),
            "overlap": found.overlap,
            "heterogeneity": None if found.heterogeneity is None else round(found.heterogeneity, 4),
        }
    else:
        threshold = ctx.min_cell
        cells = victim_cells(con, ["country"], _scope(request), threshold, protection=ctx.protection(threshold))
        document |= {
            "observed": cells[0].victims if cells else 0,
            "estimate": rounded(found.estimate),
            "lower": rounded(found.lower),
            "upper": rounded(found.upper),
            "rounded_to": ESTIMATE_ROUNDING,
        }
    return Answer(document, cells=1, exact=exact)


def quarantine(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from reports.validation import open_quarantine

    country = request["country"]
    access.may_read_country(ctx.who, country, "quarantine")
    entries = open_quarantine(con, country)
    return Answer({"entries": entries}, cells=len(entries))


def validation(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from reports.validation import validation_html, validation_report

    country = access.scoped_country(ctx.who, request.get("country"))
    access.may_read_country(ctx.who, country, "validation report")
    report = validation_report(con, ctx.settings, country)
    files = {"validation.html": validation_html(report).encode(), "validation.json": json.dumps(report).encode()}
    return Answer({"report": report}, files=files)


def privacy(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from reports.privacy import write_privacy_report

    access.may_read_privacy_report(ctx.who)
    with tempfile.TemporaryDirectory(prefix="thbdb-privacy-") as folder:
        json_path, html_path, report = write_privacy_report(con, Path(folder), ctx.min_cell)
        files = {p.name: p.read_bytes() for p in (json_path, html_path)}
    return Answer({"report": report}, files=files)


def data_protection(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    """The data-protection report (validation, quarantine by reason, loads, disclosure
    risk, what perturbation costs): counts only, for data-protection officers."""
    from reports.data_protection import data_protection_report

    access.may_read_privacy_report(ctx.who)
    # The browser renders the page itself, in its reader's language (release/web.py).
    return Answer({"report": data_protection_report(con, ctx.min_cell)})


def analysis(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    from reports.analysis import write_analysis_report

    threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"))
    with tempfile.TemporaryDirectory(prefix="thbdb-analysis-") as folder:
        alpha = float(request.get("alpha", 0.05))
        path = write_analysis_report(con, Path(folder) / "analysis.html", threshold, alpha, ctx.protection(threshold))
        files = {"analysis.html": path.read_bytes()}
    return Answer({"threshold": threshold}, exact=threshold < ctx.min_cell, files=files)


def export(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    """An export in a format of exports/registry.py, with what the role may have: counts
    protected (or exact for the entitled), k of the public microdata, the privacy loss
    of synthetic records (against the year's budget, in the ledger)."""
    from exports.registry import WRITERS, ExportParameters

    kind = request["format"]
    writer = WRITERS[kind]
    with tempfile.TemporaryDirectory(prefix="thbdb-export-") as folder:
        target = Path(folder)
        if kind in ("csv", "parquet"):
            threshold = access.threshold(ctx.who, ctx.min_cell, request.get("min_cell"))
            parameters = ExportParameters(min_cell=threshold, protection=ctx.protection(threshold))
            written = writer.write(con, target, parameters)
            return Answer({**written.document, "threshold": threshold}, exact=threshold < ctx.min_cell,
                          files=written.files)  # fmt: skip
        if kind == "dp-synthetic":
            epsilon = access.epsilon(ctx.who, ctx.policy.epsilon_cap, float(request.get("epsilon", 1.0)))
            try:
                with ledger.spending(ctx.settings.audit_dir, epsilon, ctx.policy.epsilon_per_year, ctx.who.name):
                    written = writer.write(con, target, ExportParameters(epsilon=epsilon))
            except ledger.OverBudget as error:
                raise access.Refused(f"{ctx.who}: {error}") from None
            return Answer(written.document, files=written.files, epsilon=epsilon)
        k = access.public_k(ctx.who, ctx.policy.public_k, request.get("k"))
        written = writer.write(con, target, ExportParameters(k=k))
        return Answer(written.document, exact=k < ctx.policy.public_k, files=written.files)


def check_table(con: duckdb.DuckDBPyConnection, ctx: Context, request: dict[str, Any]) -> Answer:
    """A published table against the snapshot. Compared exactly for those entitled to
    the countries' exact counts; for anyone else against protected counts, so that a
    made-up table of guesses cannot probe a withheld cell."""
    from reports.check_table import compare_with_warehouse

    cells = [PublishedCell(**c) for c in request["cells"]]
    countries = {c.country for c in cells}
    try:
        threshold = access.threshold(ctx.who, ctx.min_cell, 1, countries.pop() if len(countries) == 1 else None)
    except access.Refused:
        threshold = ctx.min_cell
    differences, withheld = compare_with_warehouse(con, cells, threshold, ctx.protection(threshold))
    return Answer(
        {
            "inconsistencies": [{"severity": i.severity, "text": str(i)} for i in find_inconsistencies(cells)],
            "differences": [str(d) for d in differences],
            "not_compared": withheld,
            "threshold": threshold,
        },
        cells=len(cells),
        withheld=withheld,
        exact=threshold < ctx.min_cell,
    )


# What answers a request on the hub itself (no snapshot): the audit log, an erasure.
HubAction = Callable[[Context, dict[str, Any]], Answer]


def erase(ctx: Context, request: dict[str, Any]) -> Answer:
    from release import erasure

    access.may_erase(ctx.who, request["country"])
    outcome = erasure.carry_out(ctx.settings, request["country"], request["kind"], request["record_refs"])
    return Answer({"erased": outcome.as_dict()}, cells=outcome.warehouse.found, exact=True)


def audit(ctx: Context, request: dict[str, Any]) -> Answer:
    from release import audit as audit_log

    access.may_read_audit(ctx.who)
    entries = audit_log.entries(ctx.settings.audit_dir, ctx.who.country, request.get("last"))
    return Answer({"entries": entries}, cells=len(entries))
