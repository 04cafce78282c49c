"""HTML pages from Jinja2 templates (reports/templates/): autoescaped, so a value is
escaped where it is shown, whatever it holds; only what the code marks as markup (a chart,
a flag) goes in as it is. Every page inlines the one stylesheet, style.css."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

__all__ = ["Markup", "make_environment", "render"]


def make_environment(*packages: str, translations: Any = None) -> Environment:
    """Templates of ``packages`` (each its ``templates/`` folder, the first found wins),
    with gettext's ``_()`` in them: the browser's pages install a language's catalogue
    (release/i18n.py); the report files are written in the source text, English."""
    environment = Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates") for package in packages]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,  # a missing value is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    if translations is None:
        environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    else:
        environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["list_values"] = lambda record: list(record.values())
    environment.filters["percent"] = lambda share: f"{share:.0%}"
    environment.filters["short"] = lambda number: f"{number:g}"
    return environment


@functools.cache
def _environment() -> Environment:
    return make_environment("reports")


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def table(columns: list[str], rows: list[list[Any]]) -> Markup:
    """A table of an analysis section, folded under its chart."""
    return Markup(render("table.html.j2", columns=columns, rows=rows))  # noqa: S704 - rendered with autoescape
