"""Great Expectations Data Docs for data-protection officers, built from redacted results.

Validation runs in an ephemeral context, which stores nothing. Only the redacted result
(no sample values, see ``runner.redact_result``) is put into the file-based store
under $THBDB_HOME/gx, and the Data Docs site is rendered from that store alone.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=4)
def _file_context(gx_dir: str) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx.get_context(mode="file", project_root_dir=gx_dir)


def store_redacted_result(gx_dir: Path, result: Any, suite_name: str, run_name: str, batch_name: str) -> None:
    """Keep one redacted validation result for the Data Docs."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _file_context(str(gx_dir))
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=RunIdentifier(run_name=run_name),
        batch_identifier=batch_name,
    )
    context.validation_results_store.set(key, result)


def build_data_docs(gx_dir: Path) -> Path:
    """Render the Data Docs site from the stored (redacted) results; its index page."""
    context = _file_context(str(gx_dir))
    context.build_data_docs()
    return data_docs_index(gx_dir)


def data_docs_index(gx_dir: Path) -> Path:
    return gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
