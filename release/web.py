"""The browser's pages, served by the release service beside its API (release/service.py).

- **Analysts** build a table: a measure (victims, perpetrators, cross-border persons),
  rows, columns, a country and a period; they get the protected table with the withheld
  cells marked, a chart, the flagged trends of the selection, and CSV or Parquet equal to
  what `thbdb query` returns for the same request.
- **Data-protection officers** read the data-protection report, the audit log and the
  quarantine counts; **national officers** their country's quarantine entries and exact
  counts.

Every number comes through the same operations as the CLI's (``run``: the role's access
rules, the snapshot, the protection, the audit log), so a page can show nothing the CLI
would not. Pages are rendered on the server (Jinja2) and readable with JavaScript off;
release/static/builder.js only makes the builder answer without a page load and draws
the chart with the plotly.js the hub serves itself. Nothing is fetched from elsewhere: the
Content-Security-Policy allows the hub alone.

Sign-in takes the same token as the CLI; the browser then holds a random session id in a
cookie (HttpOnly, Secure, SameSite=Strict), never the token, and the token is checked
again on every request, so a revoked or expired token ends its sessions.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from config.settings import Settings
from exports.answer_tables import counts_csv, counts_parquet
from release import i18n, identities, labels
from release.access import Identity, Role
from reports.pages import make_environment
from transforms.codelists import load_codelists
from warehouse.link_queries import LINK_DIMENSIONS
from warehouse.perpetrators import PERPETRATOR_DIMENSIONS
from warehouse.queries import DIMENSIONS

PREFIX = "/ui"
SESSION_COOKIE = "thbdb_session"
LANGUAGE_COOKIE = "thbdb_language"
SESSION_SECONDS = 8 * 3600  # a working day; the token's own expiry ends it sooner
SIGN_IN_MAX_BYTES = 4096  # a token and where to go next
# The pages one may be sent back to (after signing in, after switching language).
PAGES = frozenset(f"{PREFIX}/{name}" for name in ("", "tables", "data-protection", "audit", "quarantine",
                                                   "disclosure-risk", "validation"))  # fmt: skip
STATIC = Path(__file__).with_name("static")
# Only the hub: scripts and styles are its own files (plotly.js sets inline styles).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # nothing to other sites; no-referrer would make Origin "null"
    "Cache-Control": "no-store",
}

# Each measure: the operation that counts it, its dimensions, the count's column name
# in CSV (as `thbdb query` prints it).
MEASURES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "victims": ("query/counts", tuple(DIMENSIONS), "victims"),
    "perpetrators": ("query/perpetrators", tuple(PERPETRATOR_DIMENSIONS), "perpetrators"),
    "links": ("query/links", LINK_DIMENSIONS, "victims"),
}
# Dimensions whose codes are countries, named in the page's language.
COUNTRY_DIMENSIONS = frozenset({"country", "citizenship", "country_of_exploitation", "recruited_in"})
# Dimensions over time: trends are flagged along them, by the selection's other dimension.
TIME_DIMENSIONS = frozenset({"year", "month"})

# Runs one operation of the service for an identity (audited; HTTPException if refused).
Runner = Callable[[Request, Identity, str, dict[str, Any], str], dict[str, Any]]
AuditEntry = Callable[..., None]


@dataclass
class _Session:
    token: str
    expires: float


class Sessions:
    """Signed-in browsers, by a random id, in the service's memory: a restart signs
    everyone out, and nothing of a session is written to disk."""

    def __init__(self) -> None:
        self._open: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._open = {k: s for k, s in self._open.items() if s.expires > now}
            self._open[session_id] = _Session(token, now + SESSION_SECONDS)
        return session_id

    def token(self, session_id: str | None) -> str | None:
        with self._lock:
            found = self._open.get(session_id or "")
            return found.token if found and found.expires > time.monotonic() else None

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._open.pop(session_id or "", None)


@functools.cache
def _environment(language: str) -> Environment:
    environment = make_environment("release", "reports", translations=i18n.translations(language))
    return environment


@dataclass(frozen=True)
class Page:
    """What every page knows: who reads it, in which language, where it is (its path)."""

    who: Identity | None
    language: str
    here: str

    def gettext(self, message: str) -> str:
        return i18n.translations(self.language).gettext(message)

    def dimension(self, name: str) -> str:
        return self.gettext(labels.DIMENSIONS.get(name, name))

    def dimension_list(self, names: list[str]) -> str:
        return " × ".join(self.dimension(n) for n in names)

    def value(self, dimension: str, code: Any) -> str:
        """A code as the page shows it: a country's name, a code's label, or as it is."""
        text = str(code)
        if text in labels.CODES:
            return self.gettext(labels.CODES[text])
        if dimension in COUNTRY_DIMENSIONS:
            return i18n.locale_of(self.language).territories.get(text, text)
        return text

    def fields(self, names: list[str]) -> str:
        """Form fields by their labels, for a message naming them."""
        return ", ".join(self.gettext(labels.FIELDS.get(name, name)) for name in names)

    def country(self, code: str) -> str:
        return self.value("country", code)

    def role(self) -> str:
        if self.who is None:
            return ""
        names = {
            Role.analyst: self.gettext("Regional analyst"),
            Role.national: self.gettext("National officer"),
            Role.dpo: self.gettext("Data-protection officer"),
            Role.admin: self.gettext("Administrator"),
        }
        return names[self.who.role] + (f" ({self.who.country})" if self.who.country else "")

    def navigation(self) -> list[tuple[str, str, bool]]:
        """(href, label, current) of the pages this role may open."""
        if self.who is None:
            return []
        items = [(f"{PREFIX}/tables", self.gettext("Tables"))]
        if self.who.role in (Role.dpo, Role.admin):
            items += [(f"{PREFIX}/data-protection", self.gettext("Data protection")),
                      (f"{PREFIX}/audit", self.gettext("Audit log"))]  # fmt: skip
        if self.who.role in (Role.national, Role.dpo, Role.admin):
            items.append((f"{PREFIX}/quarantine", self.gettext("Quarantine")))
        return [(href, label, self.here == href) for href, label in items]


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = (
        _environment(page.language)
        .get_template(template)
        .render(
            page=page,
            who=page.who,
            languages=i18n.LANGUAGES,
            language=page.language,
            html_lang=i18n.html_lang(page.language),
            page_measures=labels.MEASURES,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@dataclass
class TableRequest:
    """The builder's form, checked: what the page asks the service for."""

    measure: str = "victims"
    rows: str = "year"
    columns: str = "country"
    country: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    exact: bool = False
    asked: bool = False  # the form was sent (else the page shows the form only)

    @classmethod
    def of(cls, query: dict[str, str]) -> tuple[TableRequest, list[str]]:
        """The request and the problems found in the form (by field, never a value)."""
        problems: list[str] = []
        measure = query.get("measure", "victims")
        if measure not in MEASURES:
            problems.append("measure")
            measure = "victims"
        dims = MEASURES[measure][1]
        rows = query.get("rows") or "year"
        if rows not in dims:
            problems.append("rows")
            rows = "year"
        columns = query.get("columns", "country" if measure != "links" else "")
        if columns and (columns not in dims or columns == rows):
            problems.append("columns")
            columns = ""
        country = query.get("country") or None
        if country is not None and country not in load_codelists().reporting_countries:
            problems.append("country")
            country = None
        years: list[int | None] = []
        for name in ("year_from", "year_to"):
            text = (query.get(name) or "").strip()
            if text and not (re.fullmatch(r"[0-9]{4}", text) and 1900 <= int(text) <= 2200):
                problems.append(name)
                text = ""
            years.append(int(text) if text else None)
        if years[0] is not None and years[1] is not None and years[0] > years[1]:
            problems.append("year_to")
        exact = query.get("exact") == "1"
        return cls(measure, rows, columns, country, years[0], years[1], exact, "rows" in query), problems

    @property
    def dimensions(self) -> list[str]:
        return [self.rows, *([self.columns] if self.columns else [])]

    def body(self, who: Identity) -> dict[str, Any]:
        """The operation's request, as the CLI would send it for the same choices."""
        body: dict[str, Any] = {"by": ",".join(self.dimensions), "country": self.country,
                                "year_from": self.year_from, "year_to": self.year_to, "min_cell": None}  # fmt: skip
        if self.exact:  # the service decides who may have them (403 for the others)
            body["min_cell"] = 1
            if who.role is Role.national and body["country"] is None:
                body["country"] = who.country  # its exact counts are of its own country only
        if self.measure == "victims":
            body["totals"] = False
        return body

    def query_string(self) -> str:
        fields = {"measure": self.measure, "rows": self.rows, "columns": self.columns,
                  "country": self.country or "", "year_from": self.year_from or "",
                  "year_to": self.year_to or ""}  # fmt: skip
        if self.exact:
            fields["exact"] = "1"
        return urllib.parse.urlencode(fields)

    def file_name(self, suffix: str) -> str:
        return "-".join([self.measure, *self.dimensions, *([self.country] if self.country else [])]) + suffix


def answer_cells(measure: str, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The cells as the CLI writes them: a links answer's last cell is its total."""
    cells = [dict(c) for c in answer["cells"]]
    if measure == "links" and cells:
        cells[-1]["key"] = ["total"] * len(answer["dimensions"])
    return cells


@dataclass
class Pivot:
    """An answer laid out as rows by columns, for the page and the chart."""

    row_values: list[Any]
    column_values: list[Any]
    cells: dict[tuple[str, str], dict[str, Any]]
    total: dict[str, Any] | None

    @classmethod
    def of(cls, measure: str, dimensions: list[str], cells: list[dict[str, Any]]) -> Pivot:
        total = None
        if measure == "links" and cells:
            total, cells = cells[-1], cells[:-1]
        row_values: list[Any] = []
        column_values: list[Any] = []
        laid: dict[tuple[str, str], dict[str, Any]] = {}
        for cell in cells:
            row = cell["key"][0]
            column = cell["key"][1] if len(dimensions) > 1 else ""
            if row not in row_values:
                row_values.append(row)
            if column not in column_values:
                column_values.append(column)
            laid[(str(row), str(column))] = cell
        return cls(sorted(row_values, key=_order), sorted(column_values, key=_order), laid, total)

    def withheld(self) -> int:
        return sum(bool(c["suppressed"]) for c in self.cells.values())

    def cell(self, row: Any, column: Any) -> dict[str, Any] | None:
        return self.cells.get((str(row), str(column)))

    def figure(self, page: Page, request: TableRequest) -> dict[str, Any]:
        """A grouped bar chart: a bar per row value, a series per column value; withheld
        cells are gaps, never zeros."""
        traces = []
        for column in self.column_values:
            values = [(self.cell(r, column) or {}).get("count") for r in self.row_values]
            traces.append({
                "type": "bar",
                "name": page.value(request.columns, column) if request.columns else page.gettext(
                    labels.MEASURES[request.measure]),
                "x": [page.value(request.rows, r) for r in self.row_values],
                "y": values,
            })  # fmt: skip
        return {
            "data": traces,
            "layout": {
                "barmode": "group",
                "height": 460,
                "margin": {"t": 30, "b": 60, "l": 60, "r": 20},
                # Long category names (forms of exploitation, routes) get the room they need.
                "xaxis": {"title": {"text": page.dimension(request.rows)}, "type": "category", "automargin": True},
                "yaxis": {"title": {"text": page.gettext(labels.MEASURES[request.measure])}, "automargin": True},
                "legend": {"title": {"text": page.dimension(request.columns) if request.columns else ""}},
            },
        }


def _order(value: Any) -> tuple[int, Any]:
    """Years and months in order, age bands by age, other codes alphabetically, 'not
    recorded' and totals last."""
    if isinstance(value, int):
        return (0, value)
    text = str(value)
    if text in ("not_recorded", "not_collected", "unknown", "total"):
        return (3, text)
    band = re.fullmatch(r"([0-9]+)(?:-[0-9]+|\+)", text)
    return (1, int(band.group(1))) if band else (2, text)


def pages(settings: Settings, verify: identities.Verifier, run: Runner, audit_entry: AuditEntry) -> APIRouter:
    """The browser's routes, under /ui."""
    router = APIRouter(include_in_schema=False)
    sessions = Sessions()

    def page_of(request: Request, who: Identity | None) -> Page:
        language = i18n.negotiate(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"))
        return Page(who, language, request.url.path)  # never the query: a page echoes no value it was sent

    def signed_in(request: Request) -> Identity | None:
        token = sessions.token(request.cookies.get(SESSION_COOKIE))
        if token is None:
            return None
        try:
            return verify(token)
        except identities.IdentityError:
            sessions.close(request.cookies.get(SESSION_COOKIE))
            return None

    def ask(request: Request, page: Page, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        assert page.who is not None
        return run(request, page.who, operation, body, "browser")

    def refused(page: Page, error: HTTPException) -> HTMLResponse:
        return render(page, "web/error.html.j2", status=error.status_code, status_code=error.status_code,
                      detail=str(error.detail))  # fmt: skip

    def to_sign_in(request: Request) -> RedirectResponse:
        back = urllib.parse.quote(request.url.path)  # the page, not what was asked of it
        return RedirectResponse(f"{PREFIX}/sign-in?back={back}", status_code=303, headers=SECURITY_HEADERS)

    @router.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    @router.get(f"{PREFIX}/")
    def home(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return to_sign_in(request)
        start = {Role.dpo: "data-protection", Role.national: "quarantine"}.get(who.role, "tables")
        return RedirectResponse(f"{PREFIX}/{start}", status_code=303, headers=SECURITY_HEADERS)

    @router.get(f"{PREFIX}/sign-in")
    def sign_in_form(request: Request, back: str = "") -> Response:
        return render(page_of(request, None), "web/sign_in.html.j2", back=_safe_back(back), problem=None)

    @router.post(f"{PREFIX}/sign-in")
    async def sign_in(request: Request) -> Response:
        _same_origin(request)
        body = await request.body()
        if len(body) > SIGN_IN_MAX_BYTES:
            raise HTTPException(413, "the sign-in form is larger than a token")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        back = _safe_back((form.get("back") or [""])[0])
        page = page_of(request, None)
        sessions.close(request.cookies.get(SESSION_COOKIE))  # never two sessions in one browser
        try:
            who = verify(token)
        except identities.IdentityError as error:
            audit_entry(request, None, "unauthenticated", operation="sign-in", via="browser", detail=str(error))
            problem = page.gettext("This token is not valid. Ask the hub's administrator for a new one.")
            return render(page, "web/sign_in.html.j2", status=401, back=back, problem=problem)
        audit_entry(request, who, "signed in", operation="sign-in", via="browser")
        response = RedirectResponse(back or f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        # A session cookie: gone when the browser closes (a shared office computer), and
        # the hub forgets the session after SESSION_SECONDS in any case.
        response.set_cookie(SESSION_COOKIE, sessions.open(token), path=PREFIX, secure=True, httponly=True,
                            samesite="strict")  # fmt: skip
        return response

    @router.post(f"{PREFIX}/sign-out")
    def sign_out(request: Request) -> Response:
        _same_origin(request)
        sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, secure=True, httponly=True, samesite="strict")
        return response

    @router.get(f"{PREFIX}/language")
    def language(to: str = i18n.DEFAULT, back: str = "") -> Response:
        response = RedirectResponse(_safe_back(back) or f"{PREFIX}/", status_code=303, headers=SECURITY_HEADERS)
        if to in i18n.LANGUAGES:
            response.set_cookie(LANGUAGE_COOKIE, to, max_age=365 * 86400, path=PREFIX, secure=True,
                                samesite="strict")  # fmt: skip
        return response

    @router.get(f"{PREFIX}/static/{{name}}")
    def static(name: str) -> Response:
        files = {"plotly.min.js": _plotly_js(), **{f.name: f for f in STATIC.iterdir() if f.is_file()}}
        if name not in files:
            raise HTTPException(404, "no such file")
        return FileResponse(files[name], headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    @router.get(f"{PREFIX}/tables")
    def tables(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return to_sign_in(request)
        page = page_of(request, who)
        table, problems = TableRequest.of(dict(request.query_params))
        offered = {m: [[d, page.dimension(d)] for d in dims] for m, (_, dims, _) in MEASURES.items()}
        context: dict[str, Any] = {"table": table, "problems": problems, "measures": MEASURES,
                                   "measure_dimensions": offered,
                                   "countries": load_codelists().reporting_countries, "answer": None,
                                   "pivot": None, "figure": None, "trends": None, "error": None}  # fmt: skip
        status = 200
        if table.asked and not problems:
            try:
                answer = ask(request, page, MEASURES[table.measure][0], table.body(who))
                cells = answer_cells(table.measure, answer)
                pivot = Pivot.of(table.measure, answer["dimensions"], cells)
                context |= {"answer": answer, "pivot": pivot, "figure": pivot.figure(page, table),
                            "trends": _flagged_trends(request, page, table, ask)}  # fmt: skip
            except HTTPException as error:
                context["error"] = str(error.detail)
                status = error.status_code
        template = "web/results.html.j2" if request.headers.get("x-thbdb-partial") else "web/tables.html.j2"
        back = f"{PREFIX}/tables?{table.query_string()}" if table.asked and not problems else page.here
        return render(page, template, status=status, back_to=back, **context)

    def download(request: Request, suffix: str) -> Response:
        who = signed_in(request)
        if who is None:
            return to_sign_in(request)
        page = page_of(request, who)
        table, problems = TableRequest.of(dict(request.query_params))
        if problems:
            detail = page.gettext("Check these fields: %(fields)s") % {"fields": page.fields(problems)}
            return refused(page, HTTPException(400, detail))
        try:
            answer = ask(request, page, MEASURES[table.measure][0], table.body(who))
        except HTTPException as error:
            return refused(page, error)
        cells = answer_cells(table.measure, answer)
        counted = MEASURES[table.measure][2]
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{table.file_name(suffix)}"'}
        if suffix == ".csv":
            return Response(counts_csv(answer["dimensions"], cells, counted), media_type="text/csv; charset=utf-8",
                            headers=headers)  # fmt: skip
        return Response(counts_parquet(answer["dimensions"], cells, counted),
                        media_type="application/vnd.apache.parquet", headers=headers)  # fmt: skip

    @router.get(f"{PREFIX}/tables.csv")
    def tables_csv(request: Request) -> Response:
        return download(request, ".csv")

    @router.get(f"{PREFIX}/tables.parquet")
    def tables_parquet(request: Request) -> Response:
        return download(request, ".parquet")

    def answered(request: Request, operation: str, body: dict[str, Any]) -> tuple[Page, dict[str, Any]] | Response:
        """The signed-in reader's page and the operation's answer, or the page that says why not."""
        who = signed_in(request)
        if who is None:
            return to_sign_in(request)
        page = page_of(request, who)
        try:
            return page, ask(request, page, operation, body)
        except HTTPException as error:
            return refused(page, error)

    @router.get(f"{PREFIX}/data-protection")
    def data_protection(request: Request) -> Response:
        from reports.data_protection import data_protection_flags

        found = answered(request, "report/data-protection", {})
        if isinstance(found, Response):
            return found
        page, answer = found
        report = answer["report"]
        return render(page, "web/data_protection.html.j2", report=report, flags=data_protection_flags(report))

    def report_page(request: Request, operation: str, file: str) -> Response:
        """A report the CLI writes as a file (reports/), shown as it is: English, counts only."""
        found = answered(request, operation, {})
        if isinstance(found, Response):
            return found
        html = base64.b64decode(found[1]["files"][file]).decode("utf-8")
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    @router.get(f"{PREFIX}/disclosure-risk")
    def disclosure_risk(request: Request) -> Response:
        return report_page(request, "report/privacy", "privacy.html")

    @router.get(f"{PREFIX}/validation")
    def validation(request: Request) -> Response:
        return report_page(request, "report/validation", "validation.html")

    @router.get(f"{PREFIX}/audit")
    def audit_log(request: Request) -> Response:
        found = answered(request, "audit", {"last": 500})
        if isinstance(found, Response):
            return found
        page, answer = found
        shown = ("at", "who", "role", "country", "operation", "via", "outcome", "cells", "withheld", "exact")
        entries = [{key: entry.get(key) for key in shown} for entry in reversed(answer["entries"])]
        return render(page, "web/audit.html.j2", entries=entries)

    @router.get(f"{PREFIX}/quarantine")
    def quarantine(request: Request, country: str = "") -> Response:
        who = signed_in(request)
        if who is None:
            return to_sign_in(request)
        page = page_of(request, who)
        chosen = who.country or country or None
        if chosen is not None and chosen not in load_codelists().reporting_countries:
            detail = page.gettext("Check these fields: %(fields)s") % {"fields": page.fields(["country"])}
            return refused(page, HTTPException(400, detail))
        if chosen is None:
            return render(page, "web/quarantine.html.j2", chosen=None, entries=[], by_reason=[],
                          countries=load_codelists().reporting_countries)  # fmt: skip
        try:
            answer = ask(request, page, "quarantine", {"country": chosen})
        except HTTPException as error:
            return refused(page, error)
        entries = answer["entries"]
        by_reason: dict[str, list[int]] = {}
        for entry in entries:
            counts = by_reason.setdefault(entry["reasons"], [0, 0])
            counts[1 if entry["resolved"] else 0] += 1
        return render(page, "web/quarantine.html.j2", chosen=chosen, entries=entries,
                      by_reason=sorted(by_reason.items(), key=lambda item: -sum(item[1])),
                      countries=load_codelists().reporting_countries)  # fmt: skip

    return router


def _flagged_trends(request: Request, page: Page, table: TableRequest, ask: Callable[..., dict[str, Any]]) -> Any:
    """The flagged trends of the selection: victims by its non-time dimension, by year,
    over the same countries and years; None where the selection has no such dimension."""
    if table.measure != "victims":
        return None
    others = [d for d in table.dimensions if d not in TIME_DIMENSIONS and d != "country"]
    if not others:
        return None
    body = {"dimension": others[0], "period": "year", "country": table.body(page.who)["country"],  # type: ignore[arg-type]
            "year_from": table.year_from, "year_to": table.year_to}  # fmt: skip
    try:
        rows = ask(request, page, "query/trends", body)["rows"]
    except HTTPException:
        return None  # a dimension trends do not follow: the table stands alone
    return {"dimension": others[0], "rows": [r for r in rows if r["flagged"]]}


def _safe_back(back: str) -> str:
    """Where to go after signing in or switching language: one of our pages, and for the
    builder its choices as checked (never a value sent back as it came), else nowhere."""
    parsed = urllib.parse.urlsplit(back)
    if parsed.scheme or parsed.netloc or parsed.path not in PAGES:
        return ""
    if parsed.path == f"{PREFIX}/tables" and parsed.query:
        table, problems = TableRequest.of(dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)))
        return f"{parsed.path}?{table.query_string()}" if table.asked and not problems else parsed.path
    return parsed.path


def _same_origin(request: Request) -> None:
    """A form that changes the session (sign in, sign out) is taken from the hub's own
    pages only: another site cannot sign a browser in or out (login CSRF)."""
    site = request.headers.get("sec-fetch-site")  # set by the browser itself, never by a page
    if site is not None:
        same = site in ("same-origin", "none")
    else:  # an older browser: its Origin header
        same = request.headers.get("origin") in (None, f"{request.url.scheme}://{request.url.netloc}")
    if not same:
        raise HTTPException(403, "a form of another site")


@functools.cache
def _plotly_js() -> Path:
    """The plotly.js that the plotly package ships: the hub serves it, no network."""
    import plotly

    return Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
