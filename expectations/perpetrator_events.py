"""The Great Expectations suite for perpetrator events: a small one, built and redacted
as the case-event suite is (see case_events.py): a failing row is quarantined with the
expectations it failed, and only the redacted result is ever written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from expectations.case_events import _codes_regex
from expectations.runner import ValidationOutcome, prepare, row_meta, validate_frame
from transforms.codelists import CodeLists
from transforms.events import PerpetratorEvent

SUITE_NAME = "perpetrator_events"


def perpetrator_frame(country: str, events: list[PerpetratorEvent]) -> pd.DataFrame:
    """One row per event, as the suite reads it (roles joined with ';')."""
    rows = []
    for event in events:
        row = event.model_dump(mode="json", exclude={"schema_version", "kind"})
        row["roles"] = ";".join(row["roles"]) if row["roles"] else None
        row["topic_country"] = country
        row["registered_period"] = event.registered_year * 100 + event.registered_month
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True, format="ISO8601")
    return frame


def build_perpetrator_suite(country: str, codelists: CodeLists, now: datetime) -> Any:
    import great_expectations as gx
    from great_expectations import expectations as gxe

    suite = gx.ExpectationSuite(name=f"{SUITE_NAME}_{country.lower()}")
    add = suite.add_expectation
    for column in ("event_id", "country", "record_ref", "updated_at", "status", "registered_year", "batch_id"):
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, meta=row_meta(f"{column}: required, but missing")))
    add(gxe.ExpectColumnValuesToBeUnique(column="event_id", meta=row_meta("event_id: duplicated in the batch")))
    add(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="country",
            column_B="topic_country",
            meta=row_meta("country: not the country of the topic it came from"),
        )
    )
    for column, codelist in (
        ("status", "status_perpetrator"),
        ("sex", "sex"),
        ("structure", "perpetrator_structure"),
        ("relation_to_victim", "relation_to_victim"),
    ):
        add(
            gxe.ExpectColumnValuesToBeInSet(
                column=column,
                value_set=list(codelists.codes(codelist)),
                meta=row_meta(f"{column}: not a code of the regional {codelist} list"),
            )
        )
    add(
        gxe.ExpectColumnValuesToMatchRegex(
            column="roles",
            regex=_codes_regex(codelists.codes("perpetrator_role")),
            meta=row_meta("roles: holds a code not in the regional perpetrator_role list"),
        )
    )
    for column in ("record_ref", "case_ref"):
        add(
            gxe.ExpectColumnValuesToMatchRegex(
                column=column, regex=r"^[0-9a-f]{64}$", meta=row_meta(f"{column}: not a keyed pseudonym")
            )
        )
    add(
        gxe.ExpectColumnValuesToMatchRegex(
            column="citizenship", regex=r"^[A-Z]{2}$", meta=row_meta("citizenship: not an alpha-2 country code")
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="age_at_registration", min_value=0, max_value=120, meta=row_meta("age_at_registration: out of range")
        )
    )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column="registered_period",
            min_value=199001,
            max_value=now.year * 100 + now.month,
            meta=row_meta("registered_on: before 1990 or in the future"),
        )
    )
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
    return suite


def prepare_validation(country: str) -> None:
    """Build the country's perpetrator validation before the first batch (runner.prepare)."""
    prepare(SUITE_NAME, build_perpetrator_suite, country)


def validate_perpetrator_events(country: str, events: list[PerpetratorEvent]) -> ValidationOutcome:
    """Which perpetrator events of a micro-batch fail and why; the result redacted."""
    if not events:
        return ValidationOutcome(summary={"expectations": 0, "expectations_failed": 0})
    return validate_frame(SUITE_NAME, build_perpetrator_suite, country, perpetrator_frame(country, events))
