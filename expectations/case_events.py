"""The Great Expectations suite for case events, and the redaction of its results.

Events of one micro-batch become one DataFrame (list fields joined with ';'), which the
suite validates; each failing row is quarantined with the expectations it failed.

Great Expectations' results carry sample failing values (``partial_unexpected_list`` and
friends), which could be personal data typed in the wrong field. Only ``redact`` output
is ever written anywhere: counts and row positions, never values.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from transforms.codelists import CodeLists, load_codelists
from transforms.events import VictimEvent

SUITE_NAME = "case_events"
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
_LIST_FIELDS = {
    "exploitation_types": "exploitation",
    "means_of_control": "means_of_control",
    "means_of_travel": "means_of_travel",
    "means_of_communication": "means_of_communication",
}


@dataclass
class ValidationOutcome:
    # row position in the batch -> readable reasons (expectation and column)
    failures: dict[int, list[str]] = field(default_factory=dict)
    summary: dict[str, int] = field(default_factory=dict)
    redacted: dict[str, Any] = field(default_factory=dict)


def events_frame(country: str, events: list[VictimEvent]) -> pd.DataFrame:
    """One row per event, as the suite reads it."""
    rows = []
    for event in events:
        row = event.model_dump(mode="json", exclude={"schema_version", "kind"})
        for name in (*_LIST_FIELDS, "transit_countries"):
            row[name] = ";".join(row[name]) if row[name] else None
        row["topic_country"] = country
        row["identified_period"] = event.identified_year * 100 + event.identified_month
        rows.append(row)
    return pd.DataFrame(rows)


def _codes_regex(codes: tuple[str, ...]) -> str:
    one = "(" + "|".join(codes) + ")"
    return f"^{one}(;{one})*$"


def build_suite(codelists: CodeLists, today: datetime) -> Any:
    """The suite, as code: every field of the event is checked."""
    import great_expectations as gx
    from great_expectations import expectations as gxe

    period_now = today.year * 100 + today.month
    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for column in (
        "event_id",
        "country",
        "record_ref",
        "updated_at",
        "status",
        "identified_year",
        "identified_month",
        "codelist_version",
        "batch_id",
        "produced_at",
    ):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="event_id"))
    # No country may write for another: the event's country must be its topic's.
    suite.add_expectation(gxe.ExpectColumnPairValuesToBeEqual(column_A="country", column_B="topic_country"))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="country", value_set=list(codelists.reporting_countries))
    )
    for column, codelist in (
        ("status", "status_victim"),
        ("case_category", "case_category"),
        ("sex", "sex"),
        ("identified_by", "identified_by"),
        ("recruitment_method", "recruitment"),
    ):
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(codelists.codes(codelist))))
    for column, codelist in _LIST_FIELDS.items():
        suite.add_expectation(
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=_codes_regex(codelists.codes(codelist)))
        )
    for column in ("record_ref", "case_ref"):
        suite.add_expectation(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=r"^[0-9a-f]{64}$"))
    for column in ("citizenship", "country_of_exploitation", "recruited_in"):
        suite.add_expectation(gxe.ExpectColumnValuesToMatchRegex(column=column, regex=r"^[A-Z]{2}$"))
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(column="transit_countries", regex=r"^[A-Z]{2}(;[A-Z]{2})*$")
    )
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="age_at_identification", min_value=0, max_value=120))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="identified_month", min_value=1, max_value=12))
    # Identified neither before the regional records begin nor in the future.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="identified_period", min_value=199001, max_value=period_now)
    )
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="codelist_version", value_set=[codelists.version]))
    return suite


@lru_cache(maxsize=1)
def _validation_definition(day: str) -> Any:
    """A validation definition in an ephemeral context, built once per process and day."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here, and no telemetry
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = context.data_sources.add_pandas("case_events").add_dataframe_asset("micro_batch")
    definition = batch.add_batch_definition_whole_dataframe("whole_batch")
    suite = context.suites.add(build_suite(load_codelists(), datetime.fromisoformat(day)))
    return context.validation_definitions.add(gx.ValidationDefinition(name=SUITE_NAME, data=definition, suite=suite))


def validate_events(country: str, events: list[VictimEvent], run_id: str) -> ValidationOutcome:
    """Validate one micro-batch of a country's events; which rows failed, and why."""
    if not events:
        return ValidationOutcome(summary={"expectations": 0, "expectations_failed": 0})
    today = datetime.now(UTC).date().isoformat()
    frame = events_frame(country, events)
    result = _validation_definition(today).run(
        batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
    )
    outcome = ValidationOutcome()
    failed = 0
    for item in result.results:
        if item.success:
            continue
        failed += 1
        config = item.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or f"{kwargs.get('column_A')}/{kwargs.get('column_B')}"
        reason = f"{config.type}({column})"
        for index in item.result.get("unexpected_index_list") or []:
            position = int(index) if not isinstance(index, dict) else int(next(iter(index.values())))
            outcome.failures.setdefault(position, []).append(reason)
    outcome.summary = {"expectations": len(result.results), "expectations_failed": failed}
    outcome.redacted = redact(result.to_json_dict(), run_id, country)
    return outcome


def redact(result: dict[str, Any], run_id: str, country: str) -> dict[str, Any]:
    """A validation result with every row value removed: counts and reasons only."""
    cleaned = []
    for item in result.get("results", []):
        config = item.get("expectation_config", {})
        # The expectation's own arguments (column names, code lists) are not personal.
        counts = {k: v for k, v in (item.get("result") or {}).items() if k not in _VALUE_KEYS}
        cleaned.append(
            {
                "expectation": config.get("type"),
                "kwargs": config.get("kwargs", {}),
                "success": item.get("success"),
                "result": counts,
            }
        )
    return {
        "validation_run_id": run_id,
        "country": country,
        "suite": SUITE_NAME,
        "success": result.get("success"),
        "statistics": result.get("statistics", {}),
        "results": cleaned,
    }


def write_redacted(result: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result['validation_run_id']}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    return path
