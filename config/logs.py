"""The one logging setup: Rich on the terminal, plain lines in Airflow task logs."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

_configured = False


def setup_logging(verbose: bool = False, console: Console | None = None) -> None:
    global _configured
    if _configured:
        return
    level = logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(console=console or Console(stderr=True), show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])
    # Libraries speak only when something is wrong.
    for noisy in ("great_expectations", "httpx", "urllib3", "alembic", "airflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True
