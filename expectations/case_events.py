"""The Great Expectations suite for case events (run and redacted by runner.py).

Events of one micro-batch become one DataFrame (list fields joined with ';'), which the
suite validates; each failing row is quarantined with the expectations it failed.

Great Expectations' results carry sample failing values (``partial_unexpected_list`` and
friends), which could be personal data typed in the wrong field. Only ``redact_result``
output is ever written anywhere: counts, expectation names and arguments, never row values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from expectations.runner import ValidationOutcome, batch_meta, prepare, redact_result, row_meta, validate_frame
from transforms import contract
from transforms.codelists import CodeLists, collected_since
from transforms.events import VictimEvent

__all__ = [
    "SUITE_NAME",
    "ValidationOutcome",
    "build_suite",
    "events_frame",
    "prepare_validation",
    "redact_result",
    "validate_events",
]

SUITE_NAME = "case_events"
# The event's list fields and single-code fields, with their code lists (transforms/contract.py).
_LIST_FIELDS = {f.event[0]: f.codelist for f in contract.of_kind("codes") if f.codelist}
_CODE_FIELDS = {f.event[0]: f.codelist for f in contract.of_kind("status", "code") if f.codelist}


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
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, meta=row_meta(f"{column}: required, but missing")))
    add(gxe.ExpectColumnValuesToBeUnique(column="event_id", meta=row_meta("event_id: duplicated in the batch")))
    # No country may write for another: the event's country must be its topic's.
    add(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="country",
            column_B="topic_country",
            meta=row_meta("country: not the country of the topic it came from"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="country",
            value_set=list(codelists.reporting_countries),
            meta=row_meta("country: not a reporting country"),
        )
    )
    for column, codelist in _CODE_FIELDS.items():
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column=column,
                value_set=list(codelists.codes(codelist)),
                meta=row_meta(f"{column}: not a code of the regional {codelist} list"),
            )
        )
    for column, codelist in _LIST_FIELDS.items():
        codes = codelists.codes(codelist)
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column,
                regex=_codes_regex(codes),
                meta=row_meta(f"{column}: holds a code not in the regional {codelist} list"),
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
                    meta=row_meta(f"{column}: holds a category {country} did not collect before {since}"),
                )
            )
    for column in ("record_ref", "case_ref"):
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=r"^[0-9a-f]{64}$", meta=row_meta(f"{column}: not a keyed pseudonym")
            )
        )
    for column in ("citizenship", "country_of_exploitation", "recruited_in"):
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=r"^[A-Z]{2}$", meta=row_meta(f"{column}: not an alpha-2 country code")
            )
        )
    add(
        gxe.ExpectColumnValuesToMatchRegex(
            column="transit_countries",
            regex=r"^[A-Z]{2}(?:;[A-Z]{2})*$",
            meta=row_meta("transit_countries: not alpha-2 country codes"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="age_at_identification",
            min_value=0,
            max_value=120,
            meta=row_meta("age_at_identification: out of range 0-120"),
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="identified_month", min_value=1, max_value=12, meta=row_meta("identified_month: not a month")
        )
    )
    # Identified neither before the regional records begin nor in the future.
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="identified_period",
            min_value=199001,
            max_value=period_now,
            meta=row_meta("identified_on: before 1990 or in the future"),
        )
    )
    # A day of slack for clocks; a later updated_at would win every future correction.
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="updated_at", max_value=now + timedelta(days=1), meta=row_meta("updated_at: in the future")
        )
    )
    add(
        gxe.ExpectColumnValuesToBeInSet(
            column="codelist_version",
            value_set=[codelists.version],
            meta=row_meta("codelist_version: not a version this pipeline reads"),
        )
    )
    # Batch level: a batch where most rows lack a field says the export lost a column.
    for column in ("sex", "age_at_identification", "citizenship", "exploitation_types", "identified_by"):
        add(
            gxe.ExpectColumnValuesToNotBeNull(
                column=column, mostly=0.5, meta=batch_meta(f"{column}: not recorded for more than half of the batch")
            )
        )
    return suite


def prepare_validation(country: str) -> None:
    """Build the country's case-event validation before the first batch (runner.prepare)."""
    prepare(SUITE_NAME, build_suite, country)


def validate_events(country: str, events: list[VictimEvent]) -> ValidationOutcome:
    """Validate one micro-batch of a country's case events (see expectations/runner.py)."""
    if not events:
        return ValidationOutcome(summary={"expectations": 0, "expectations_failed": 0})
    return validate_frame(SUITE_NAME, build_suite, country, events_frame(country, events))
