"""The Great Expectations suite for case events, and the redaction of its results.

Events of one micro-batch become one DataFrame (list fields joined with ';'), which the
suite validates; each failing row is quarantined with the expectations it failed.

Great Expectations' results carry sample failing values (``partial_unexpected_list`` and
friends), which could be personal data typed in the wrong field. Only ``redact_result`` output
is ever written anywhere: counts, expectation names and arguments, never row values.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd

from transforms.codelists import CodeLists, collected_since, load_codelists
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
    warnings: list[str] = field(default_factory=list)  # batch-level: no row is refused for them
    summary: dict[str, int] = field(default_factory=dict)
    result: Any = None  # the redacted Great Expectations result object


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
    frame = pd.DataFrame(rows)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True, format="ISO8601")
    return frame


def _codes_regex(codes: tuple[str, ...] | list[str]) -> str:
    one = "(?:" + "|".join(codes) + ")"
    return f"^{one}(?:;{one})*$"


def _row(reason: str) -> dict[str, str]:
    """meta of a row-level expectation: a failing row is quarantined with ``reason``."""
    return {"level": "row", "reason": reason}


def _batch(reason: str) -> dict[str, str]:
    """meta of a batch-level expectation: a warning about the batch, no row is refused."""
    return {"level": "batch", "reason": reason}


def build_suite(country: str, codelists: CodeLists, now: datetime) -> Any:
    """The suite for one country's events, as code: every field of the event is checked."""
    import great_expectations as gx
    from great_expectations import expectations as gxe

    period_now = now.year * 100 + now.month
    suite = gx.ExpectationSuite(name=f"{SUITE_NAME}_{country.lower()}")
    add = suite.add_expectation
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
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_row(f"{column}: required, but missing")))
    add(gxe.ExpectColumnValuesToBeUnique(column="event_id", meta=_row("event_id: duplicated in the batch")))
    # No country may write for another: the event's country must be its topic's.
    add(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="country",
            column_B="topic_country",
            meta=_row("country: not the country of the topic it came from"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="country",
            value_set=list(codelists.reporting_countries),
            meta=_row("country: not a reporting country"),
        )
    )
    for column, codelist in (
        ("status", "status_victim"),
        ("case_category", "case_category"),
        ("sex", "sex"),
        ("identified_by", "identified_by"),
        ("recruitment_method", "recruitment"),
    ):
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column=column,
                value_set=list(codelists.codes(codelist)),
                meta=_row(f"{column}: not a code of the regional {codelist} list"),
            )
        )
    for column, codelist in _LIST_FIELDS.items():
        codes = codelists.codes(codelist)
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column,
                regex=_codes_regex(codes),
                meta=_row(f"{column}: holds a code not in the regional {codelist} list"),
            )
        )
        # A category the country did not collect yet cannot be recorded for that year.
        for since in sorted({y for c in codes if (y := collected_since(country, codelist, c)) is not None}):
            allowed = [c for c in codes if (collected_since(country, codelist, c) or 0) < since]
            add(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=column,
                    regex=_codes_regex(allowed),
                    row_condition=f"identified_year < {since}",
                    condition_parser="pandas",
                    meta=_row(f"{column}: holds a category {country} did not collect before {since}"),
                )
            )
    for column in ("record_ref", "case_ref"):
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=r"^[0-9a-f]{64}$", meta=_row(f"{column}: not a keyed pseudonym")
            )
        )
    for column in ("citizenship", "country_of_exploitation", "recruited_in"):
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=r"^[A-Z]{2}$", meta=_row(f"{column}: not an alpha-2 country code")
            )
        )
    add(
        gxe.ExpectColumnValuesToMatchRegex(
            column="transit_countries",
            regex=r"^[A-Z]{2}(?:;[A-Z]{2})*$",
            meta=_row("transit_countries: not alpha-2 country codes"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="age_at_identification",
            min_value=0,
            max_value=120,
            meta=_row("age_at_identification: out of range 0-120"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="identified_month", min_value=1, max_value=12, meta=_row("identified_month: not a month")
        )
    )
    # Identified neither before the regional records begin nor in the future.
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="identified_period",
            min_value=199001,
            max_value=period_now,
            meta=_row("identified_on: before 1990 or in the future"),
        )
    )
    # A day of slack for clocks; a later updated_at would win every future correction.
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="updated_at", max_value=now + timedelta(days=1), meta=_row("updated_at: in the future")
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="codelist_version",
            value_set=[codelists.version],
            meta=_row("codelist_version: not a version this pipeline reads"),
        )
    )
    # Batch level: a batch where most rows lack a field says the export lost a column.
    for column in ("sex", "age_at_identification", "citizenship", "exploitation_types", "identified_by"):
        add(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column, mostly=0.5, meta=_batch(f"{column}: not recorded for more than half of the batch")
            )
        )
    return suite


@lru_cache(maxsize=8)
def _validation_definition(country: str, day: str) -> Any:
    """A validation definition in an ephemeral context, built once per process, country
    and day. Ephemeral: nothing is stored; only the redacted copy is (``data_docs``)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no network here, and no telemetry
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = context.data_sources.add_pandas("case_events").add_dataframe_asset("micro_batch")
    definition = batch.add_batch_definition_whole_dataframe("whole_batch")
    now = datetime.combine(date.fromisoformat(day), datetime.max.time(), UTC)
    suite = context.suites.add(build_suite(country, load_codelists(), now))
    return context.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=definition, suite=suite))


def prepare_validation(country: str) -> None:
    """Build the country's victim validation now (the Great Expectations import with it),
    so a long-lived consumer pays for it before the first push rather than on it."""
    _validation_definition(country, datetime.now(UTC).date().isoformat())


def validate_events(country: str, events: list[VictimEvent]) -> ValidationOutcome:
    """Validate one micro-batch of a country's events: which rows fail and why, which
    batch-level warnings hold, and the result with every row value removed."""
    if not events:
        return ValidationOutcome(summary={"expectations": 0, "expectations_failed": 0})
    today = datetime.now(UTC).date().isoformat()
    result = _validation_definition(country, today).run(
        batch_parameters={"dataframe": events_frame(country, events)},
        result_format={"result_format": "COMPLETE"},
    )
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
