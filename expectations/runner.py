"""Running a suite on one micro-batch, for every kind of event: an ephemeral Great
Expectations context per process, country and day, and the outcome read from the result.

A failing row is quarantined with the reasons of the expectations it failed; a
batch-level expectation (meta level "batch") only warns. The result kept is redacted:
counts, expectation names and arguments, never a row value (``redact_result``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import pandas as pd

from transforms.codelists import CodeLists, load_codelists

# Keys of an expectation result that hold row values; everything else is counts.
_VALUE_KEYS = frozenset(
    {
        "partial_unexpected_list",
        "partial_unexpected_counts",
        "unexpected_list",
        "observed_value",
        "details",
        "unexpected_rows",
        "partial_unexpected_index_list",
        "unexpected_index_list",
        "unexpected_index_query",
    }
)

SuiteBuilder = Callable[[str, CodeLists, datetime], Any]


@dataclass
class ValidationOutcome:
    # row position in the batch -> readable reasons (expectation and column)
    failures: dict[int, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # batch-level: no row is refused for them
    summary: dict[str, int] = field(default_factory=dict)
    result: Any = None  # the redacted Great Expectations result object


def row_meta(reason: str) -> dict[str, str]:
    """meta of a row-level expectation: a failing row is quarantined with ``reason``."""
    return {"level": "row", "reason": reason}


def batch_meta(reason: str) -> dict[str, str]:
    """meta of a batch-level expectation: it warns, and refuses no row."""
    return {"level": "batch", "reason": reason}


@lru_cache(maxsize=16)
def validation_definition(suite_name: str, build: SuiteBuilder, country: str, day: str) -> Any:
    """A validation definition in an ephemeral context, built once per process, suite,
    country and day. Ephemeral: nothing is stored; only the redacted copy is (``data_docs``)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here, and no telemetry
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = context.data_sources.add_pandas(suite_name).add_dataframe_asset("micro_batch")
    definition = batch.add_batch_definition_whole_dataframe("whole_batch")
    now = datetime.combine(date.fromisoformat(day), datetime.max.time(), UTC)
    suite = context.suites.add(build(country, load_codelists(), now))
    return context.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=definition, suite=suite))


def prepare(suite_name: str, build: SuiteBuilder, country: str) -> None:
    """Build a country's validation now (the Great Expectations import with it), so a
    long-lived consumer pays for it before the first push rather than on it."""
    validation_definition(suite_name, build, country, datetime.now(UTC).date().isoformat())


def _fails_rows(item: Any) -> bool:
    return not item.success and (item.expectation_config.meta or {}).get("level") != "batch"


def validate_frame(suite_name: str, build: SuiteBuilder, country: str, frame: pd.DataFrame) -> ValidationOutcome:
    """Validate one micro-batch's frame: which rows fail and why, which batch-level
    warnings hold, and the result with every row value removed."""
    definition = validation_definition(suite_name, build, country, datetime.now(UTC).date().isoformat())
    # Counts say whether anything failed; which rows did needs the complete format, which
    # costs about twice as much (5.1 s against 3.1 s on 100,000 events): only a batch
    # with a failing row pays for it.
    result = definition.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "BASIC"})
    if any(_fails_rows(item) for item in result.results):
        result = definition.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"})
    outcome = ValidationOutcome()
    failed = 0
    for item in result.results:
        if item.success:
            continue
        failed += 1
        meta = item.expectation_config.meta or {}
        reason = str(meta.get("reason") or item.expectation_config.type)
        if meta.get("level") == "batch":
            outcome.warnings.append(reason)
            continue
        for index in item.result.get("unexpected_index_list") or []:
            position = int(index) if not isinstance(index, dict) else int(next(iter(index.values())))
            outcome.failures.setdefault(position, []).append(reason)
    outcome.summary = {"expectations": len(result.results), "expectations_failed": failed}
    outcome.result = redact_result(result)
    return outcome


def redact_result(result: Any) -> Any:
    """The Great Expectations result object itself, with every row value removed, so
    Data Docs can be rendered from it (see expectations/data_docs.py)."""
    for item in result.results:
        item.result = {k: v for k, v in (item.result or {}).items() if k not in _VALUE_KEYS}
        if item.exception_info and item.exception_info.get("raised_exception"):
            # Exception messages can quote a value; keep only that one was raised.
            item.exception_info = {
                "raised_exception": True,
                "exception_message": "redacted",
                "exception_traceback": None,
            }
    result.meta = {k: v for k, v in result.meta.items() if k in ("great_expectations_version", "validation_time")}
    return result
