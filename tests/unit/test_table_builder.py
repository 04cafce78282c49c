"""The analysts' table builder and the officers' pages in a real browser: Debian's
Chromium, driven by Playwright, against the real release service (uvicorn over TLS on
loopback, release/service.py) answering from a snapshot of the demo's warehouse.

Acceptance of the browser issue: an analyst signs in, builds year x country, sees the
table and the chart; no cell whose true count is under the threshold is shown; the CSV
download equals `thbdb query counts`; an analyst gets 403 on the officers' pages and on
exact counts; Serbian in Cyrillic script shows translated labels; no request leaves the
hub; the console shows no error. Screenshots of the three roles' start pages are saved in
.cache/screenshots (`make screenshots` copies them to docs/screenshots for the README).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from release import tls
from release.labels import CODES
from release.service import create_app
from tests.conftest import ROOT, THBDB
from tests.hub_home import HubHome, make_hub_home
from tests.unit.test_analysis_report import CHROMIUM_ARGS, _chromium
from thbdb.stack import free_port
from warehouse.loader import connect
from warehouse.queries import Scope, victim_counts

SCREENSHOTS = ROOT / ".cache" / "screenshots"
THRESHOLD = 5


@pytest.fixture(scope="module")
def hub(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubHome]:
    """The release service, served as `thbdb up` serves it, in a thread of this process."""
    import uvicorn

    home = make_hub_home(demo_warehouse, tmp_path_factory.mktemp("web-hub"), hub_port=free_port())
    settings = home.settings
    cert, key = tls.ensure(settings.hub_secrets_dir, settings.hub_names)
    tls.publish_ca(settings.hub_secrets_dir, settings.home / "hub-ca.pem")
    config = uvicorn.Config(create_app(settings), host=settings.hub_host, port=settings.hub_port,
                            ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="release-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the release service did not start"
        time.sleep(0.05)
    try:
        yield home
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Browser:
    """One Chromium tab on the hub, recording every request and every console error."""

    def __init__(self, tab: Any, origin: str) -> None:
        self.tab = tab
        self.origin = origin
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        tab.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        tab.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        tab.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith((self.origin + "/", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def sign_in(self, token: str) -> None:
        self.tab.goto(f"{self.origin}/ui/")
        self.tab.get_by_label("Token").fill(token)
        self.tab.get_by_role("button", name="Sign in").click()
        self.tab.wait_for_load_state("load")

    def table(self) -> dict[tuple[str, str], str]:
        """The counts table as shown: (row header, column header) -> the cell's text."""
        return self.tab.evaluate(
            """() => {
              const table = document.querySelector('table.counts');
              const heads = [...table.querySelectorAll('thead th')].slice(1).map(th => th.textContent.trim());
              const cells = {};
              for (const tr of table.querySelectorAll('tbody tr')) {
                const row = tr.querySelector('th').textContent.trim();
                const tds = [...tr.querySelectorAll('td')];
                tds.forEach((td, i) => { cells[row + '|' + heads[i]] = td.textContent.trim(); });
              }
              return cells;
            }"""
        )


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium: Any, hub: HubHome, tmp_path: Path) -> Iterator[Browser]:
    context = chromium.new_context(
        ignore_https_errors=True,  # the hub's own CA; the CLI checks it, the test browser need not
        viewport={"width": 1280, "height": 1000},
        locale="en-GB",
        accept_downloads=True,
    )
    try:
        opened = Browser(context.new_page(), f"https://{hub.settings.hub_host}:{hub.settings.hub_port}")
        yield opened
        assert opened.elsewhere == [], f"requests left the hub: {opened.elsewhere}"
        assert opened.errors == [], f"the browser's console: {opened.errors}"
    finally:
        context.close()


def _true_counts(hub: HubHome, by: list[str], country: str | None = None) -> dict[tuple[str, ...], int]:
    with connect(hub.settings.warehouse, read_only=True) as con:
        cells = victim_counts(con, by, Scope(country, None, None), min_cell=1)
    return {tuple(str(k) for k in c.key): int(c.victims or 0) for c in cells}


def _build(browser: Browser, measure: str, rows: str, columns: str, country: str = "") -> None:
    tab = browser.tab
    tab.goto(f"{browser.origin}/ui/tables")
    tab.check(f"input[name=measure][value={measure}]")
    tab.wait_for_load_state("load")
    tab.select_option("#rows", rows)
    tab.select_option("#columns", columns)
    tab.select_option("#country", country)
    tab.get_by_role("button", name="Show the table").click()
    tab.wait_for_selector("#results:not([aria-busy]) table.counts")
    tab.wait_for_selector("#chart[data-drawn=true] .main-svg", timeout=60_000)


def test_an_analyst_builds_year_by_country_and_no_small_cell_is_shown(browser: Browser, hub: HubHome) -> None:
    browser.sign_in(hub.tokens["ana"])
    _build(browser, "victims", "year", "country")
    shown = browser.table()
    truth = _true_counts(hub, ["year", "country"])
    names = {"AL": "Albania", "BA": "Bosnia & Herzegovina", "ME": "Montenegro", "MK": "North Macedonia",
             "RS": "Serbia", "XK": "Kosovo"}  # fmt: skip
    assert len(shown) == len(truth) > 0
    for (year, country), count in truth.items():
        text = shown[f"{year}|{names[country]}"]
        if count < THRESHOLD:
            assert not text.isdigit(), f"{year} {country}: a cell under the threshold is shown"
        else:
            assert text == "withheld" or abs(int(text) - count) <= 10  # perturbed, never far
    bars = browser.tab.locator("#chart .main-svg .bars .point").count()
    assert bars >= len(truth) - sum(text == "withheld" for text in shown.values())
    figure = json.loads(browser.tab.locator("#chart-data").text_content() or "{}")
    drawn = [y for trace in figure["data"] for y in trace["y"]]
    assert drawn.count(None) == sum(text == "withheld" for text in shown.values())  # gaps, never zeros
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.tab.screenshot(path=str(SCREENSHOTS / "analyst-tables.png"), full_page=True)


def test_a_finer_table_withholds_every_cell_under_the_threshold(browser: Browser, hub: HubHome) -> None:
    browser.sign_in(hub.tokens["ana"])
    _build(browser, "victims", "exploitation", "year", country="ME")
    shown = browser.table()
    truth = _true_counts(hub, ["exploitation", "year"], country="ME")
    small = [key for key, count in truth.items() if 0 < count < THRESHOLD]
    assert small, "the test needs a table with true cells under the threshold"
    rows = dict(browser.tab.evaluate(
        "() => [...document.querySelectorAll('#rows option')].map(o => [o.value, o.textContent.trim()])"))  # fmt: skip
    assert rows["exploitation"] == "Form of exploitation"
    for form, year in small:
        assert shown[f"{CODES.get(form, form)}|{year}"] == "withheld", (form, year)


def test_the_csv_download_equals_the_command_line(browser: Browser, hub: HubHome) -> None:
    browser.sign_in(hub.tokens["ana"])
    _build(browser, "victims", "year", "country")
    with browser.tab.expect_download() as download:
        browser.tab.get_by_role("link", name="CSV").click()
    downloaded = Path(download.value.path()).read_text("utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THBDB_")}
    env |= {"THBDB_HOME": str(hub.settings.home), "THBDB_HUB_PORT": str(hub.settings.hub_port),
            "THBDB_TOKEN": hub.tokens["ana"], "THBDB_ACCOUNTS": "off"}  # fmt: skip
    cli = subprocess.run([THBDB, "query", "counts", "--by", "year,country", "--format", "csv"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert downloaded == cli.stdout
    assert downloaded.startswith("year,country,victims,suppressed\n")


def test_an_analyst_gets_403_on_the_officers_pages_and_exact_counts(browser: Browser, hub: HubHome) -> None:
    browser.sign_in(hub.tokens["ana"])
    for path in ("/ui/data-protection", "/ui/audit", "/ui/quarantine?country=RS",
                 "/ui/tables?measure=victims&rows=year&columns=country&country=RS&exact=1"):  # fmt: skip
        response = browser.tab.goto(browser.origin + path)
        assert response is not None and response.status == 403, path
    response = browser.tab.goto(browser.origin + "/ui/tables.csv?measure=victims&rows=year&columns=sex&exact=1")
    assert response is not None and response.status == 403
    browser.tab.goto(browser.origin + "/ui/tables")
    nav = browser.tab.locator("header nav").inner_text()
    assert "Audit log" not in nav and "Data protection" not in nav
    # The browser reports each refused page on its console: those are what this test asked for.
    browser.errors = [e for e in browser.errors if "status of 403" not in e]


def test_serbian_in_cyrillic_script_shows_translated_labels(browser: Browser, hub: HubHome) -> None:
    browser.sign_in(hub.tokens["ana"])
    browser.tab.goto(f"{browser.origin}/ui/tables?measure=victims&rows=exploitation&columns=year")
    browser.tab.select_option("#language", "sr_Cyrl")
    browser.tab.get_by_role("button", name="Change").click()
    browser.tab.wait_for_selector("html[lang=sr-Cyrl]")
    browser.tab.wait_for_selector("#chart[data-drawn=true] .main-svg", timeout=60_000)
    labels = browser.tab.evaluate("() => [...document.querySelectorAll('label')].map(l => l.textContent.trim())")
    assert "Редови" in labels and "Колоне" in labels
    headers = browser.tab.locator("table.counts tbody th").all_inner_texts()
    assert "Сексуална експлоатација" in headers
    assert "Табеле" in browser.tab.locator("header nav").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.tab.screenshot(path=str(SCREENSHOTS / "analyst-tables-sr-Cyrl.png"), full_page=True)


def test_the_three_roles_start_pages(browser: Browser, hub: HubHome) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.sign_in(hub.tokens["dpo"])
    assert browser.tab.url.endswith("/ui/data-protection")
    assert browser.tab.locator("h2").first.inner_text().startswith("Validation by country")
    browser.tab.screenshot(path=str(SCREENSHOTS / "dpo-data-protection.png"), full_page=True)
    browser.tab.emulate_media(media="print")  # filed as PDF: the report without the page's chrome
    assert not browser.tab.locator("header.top").is_visible() and browser.tab.locator("#risk").is_visible()
    assert browser.tab.pdf(path=str(SCREENSHOTS / "data-protection.pdf")).startswith(b"%PDF")
    browser.tab.emulate_media(media="screen")
    browser.tab.get_by_role("button", name="Sign out").click()
    browser.sign_in(hub.tokens["rs-officer"])
    assert browser.tab.url.endswith("/ui/quarantine")
    assert "thbdb quarantine --country RS --records" in browser.tab.locator("pre").inner_text()
    browser.tab.screenshot(path=str(SCREENSHOTS / "national-quarantine.png"), full_page=True)
    _build(browser, "victims", "year", "sex")
    browser.tab.check("#exact")
    browser.tab.get_by_role("button", name="Show the table").click()
    browser.tab.wait_for_selector("#results:not([aria-busy]) p.note.exact")
    truth = _true_counts(hub, ["year", "sex"], country="RS")
    shown = browser.table()
    names = {"F": "Female", "M": "Male", "X": "Other or not stated"}
    assert {(y, names[s]): str(n) for (y, s), n in truth.items()} == {
        tuple(k.split("|")): v for k, v in shown.items() if v != "–"
    }


def test_pages_read_with_javascript_off(chromium: Any, hub: HubHome) -> None:
    context = chromium.new_context(ignore_https_errors=True, java_script_enabled=False)
    try:
        tab = context.new_page()
        origin = f"https://{hub.settings.hub_host}:{hub.settings.hub_port}"
        tab.goto(f"{origin}/ui/")
        tab.get_by_label("Token").fill(hub.tokens["ana"])
        tab.get_by_role("button", name="Sign in").click()
        tab.goto(f"{origin}/ui/tables?measure=victims&rows=year&columns=country")
        assert tab.locator("table.counts tbody tr").count() >= 1
    finally:
        context.close()


def test_another_measure_offers_its_dimensions_and_a_language_switch_keeps_the_table(
    browser: Browser, hub: HubHome
) -> None:
    browser.sign_in(hub.tokens["ana"])
    _build(browser, "victims", "age_band", "sex")
    browser.tab.select_option("#language", "sr_Latn")
    browser.tab.get_by_role("button", name="Change").click()
    browser.tab.wait_for_selector("html[lang=sr-Latn] #chart[data-drawn=true] .main-svg")  # the page's script runs
    assert browser.tab.locator("#rows").input_value() == "age_band"  # the table built before the switch
    bands = browser.tab.locator("table.counts tbody th").all_inner_texts()
    assert bands.index("0-8") < bands.index("9-17") < bands.index("18-20")  # by age, not alphabetically
    browser.tab.check("input[name=measure][value=perpetrators]")  # no request: the page offers them itself
    offered = browser.tab.locator("#rows option").evaluate_all("options => options.map(o => o.value)")
    assert "role" in offered and "exploitation" not in offered


def test_keyboard_alone_signs_in_and_builds_a_table(browser: Browser, hub: HubHome) -> None:
    tab = browser.tab
    tab.goto(f"{browser.origin}/ui/")

    def tab_to(selector: str) -> None:
        for _ in range(30):
            tab.keyboard.press("Tab")
            if tab.evaluate(f"() => document.activeElement === document.querySelector('{selector}')"):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")

    tab_to("#token")
    tab.keyboard.type(hub.tokens["ana"])
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/ui/tables")
    tab.wait_for_load_state("load")
    tab_to("#columns")
    tab.keyboard.press("ArrowDown")  # another dimension in the columns
    tab_to("#builder button[type=submit]")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#results:not([aria-busy]) table.counts")
    assert tab.locator("#status").text_content().startswith("Table shown")  # read out by screen readers
