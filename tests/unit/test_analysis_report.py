"""The analyst report opens in headless Chromium with no network, draws every chart, logs
no error, carries the banner, and shows the demo's known shift (forced begging among
minors in XK rising in 2024).

Chromium is Debian's (`make setup` installs it); Playwright only drives it, it never
downloads a browser of its own.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.analysis import BANNER, write_analysis_report
from warehouse.loader import connect

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Share of a chart's pixels that must be coloured (bars, lines, markers): axes, grid and
# text are grey, and a chart whose traces drew nothing measures about 0.04%.
MIN_COLOURED = 0.005
_COLOURED = """async (png) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const high = Math.max(data[i], data[i + 1], data[i + 2]), low = Math.min(data[i], data[i + 1], data[i + 2]);
    if (high - low > 60) coloured++;
  }
  return coloured / (image.width * image.height);
}"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `make setup` (it installs Debian's chromium)")
    return path


@pytest.fixture(scope="module")
def report(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "analysis.html"
    with connect(demo_warehouse, read_only=True) as con:
        return write_analysis_report(con, path, min_cell=5)


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(("file:", "data:", "blob:", "about:")):
                    r.continue_()
                else:
                    requests.append(url)
                    r.abort()

            tab.route("**/*", route)
            tab.goto(report.as_uri(), wait_until="load")
            tab.wait_for_function(
                "() => [...document.querySelectorAll('.js-plotly-plot')].every(d => d.querySelector('.main-svg'))",
                timeout=60_000,
            )
            yield tab, problems, requests
        finally:
            browser.close()


def test_every_chart_is_drawn_without_errors_or_network(page: tuple[Any, list[str], list[str]]) -> None:
    tab, problems, requests = page
    charts = tab.query_selector_all(".js-plotly-plot")
    assert len(charts) >= 15
    for chart in charts:
        title = chart.eval_on_selector(".gtitle", "t => t.textContent") if chart.query_selector(".gtitle") else "?"
        marks = chart.eval_on_selector_all(
            ".barlayer .point path, .scatterlayer .js-line, .scatterlayer .point", "ps => ps.length"
        )
        assert marks > 0, f"chart {title!r} drew no bars, lines or points"
        chart.scroll_into_view_if_needed()
        coloured = tab.evaluate(_COLOURED, base64.b64encode(chart.screenshot()).decode())
        assert coloured > MIN_COLOURED, f"chart {title!r} is almost blank ({coloured:.2%} coloured)"
    assert problems == []
    assert requests == [], "the report must need no network"


def test_banner_tables_and_the_known_shift(page: tuple[Any, list[str], list[str]], report: Path) -> None:
    tab, _problems, _requests = page
    assert tab.inner_text(".banner") == BANNER
    assert len(tab.query_selector_all("table")) >= len(tab.query_selector_all(".js-plotly-plot"))
    flagged_rows = tab.eval_on_selector_all(
        "table tr", "rows => rows.map(r => [...r.querySelectorAll('td')].map(c => c.textContent))"
    )
    assert ["2024", "XK", "exploitation of minors", "begging"] in [row[:4] for row in flagged_rows], (
        "the rise of forced begging among minors in XK is not shown as flagged"
    )
    shift = next(row for row in flagged_rows if row[:4] == ["2024", "XK", "exploitation of minors", "begging"])
    assert shift[7] == "up"
    # The series tested as a whole: the demo's slow drifts are listed with their odds ratio and q.
    sustained = tab.eval_on_selector_all(
        "section",
        "ss => ss.filter(s => s.querySelector('h2')?.textContent.startsWith('Sustained trends'))"
        ".map(s => s.querySelectorAll('tbody tr').length)",
    )
    assert sustained and sustained[0] >= 1, "no sustained trend listed in the report"
    headings = tab.eval_on_selector_all("section h2", "hs => hs.map(h => h.textContent)")
    assert "Alarms: counts high against their own history" in headings
    # The estimates: one row per country, with an interval around the estimate, or the
    # reason there is none (Montenegro's exports carry no recorded_by).
    estimates = tab.eval_on_selector_all(
        "section",
        "ss => ss.filter(s => s.querySelector('h2')?.textContent.startsWith('Estimated victims'))"
        ".flatMap(s => [...s.querySelectorAll('tbody tr')]"
        ".map(r => [...r.querySelectorAll('td')].map(c => c.textContent)))",
    )
    by_country = {row[0]: row for row in estimates}
    assert set(by_country) == {"AL", "BA", "ME", "MK", "RS", "XK"}
    assert "recorded_by" in by_country["ME"][5]
    recorded, estimated, interval = by_country["RS"][1:4]
    low, high = (float(v) for v in interval.split("-"))
    assert int(recorded) <= low <= float(estimated) <= high
    text = report.read_text()
    assert "<script src=" not in text  # plotly.js is inlined, nothing fetched
