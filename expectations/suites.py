"""The Great Expectations suites for case events, one per kind of event, derived from the
contract (transforms/contract.py) and run and redacted by runner.py.

Events of one micro-batch become one DataFrame (list fields joined with ';'), which the
suite validates; each failing row is quarantined with the expectations it failed.

Great Expectations' results carry sample failing values (``partial_unexpected_list`` and
friends), which could be personal data typed in the wrong field. Only ``redact_result``
output is ever written anywhere: counts, expectation names and arguments, never row values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel

from expectations.runner import ValidationOutcome, batch_meta, prepare, row_meta, validate_frame
from transforms.codelists import CodeLists, collected_since
from transforms.contract import PERPETRATORS, VICTIMS, Contract
from transforms.events import PerpetratorEvent, VictimEvent, field_bounds
from transforms.rows import EventColumns, read_events

# Identified or registered neither before the regional records begin nor in the future.
FIRST_PERIOD = 199001
_ENVELOPE = ("event_id", "country", "codelist_version", "batch_id", "produced_at")


def _codes_regex(codes: Sequence[str]) -> str:
    one = "(?:" + "|".join(codes) + ")"
    return f"^{one}(?:;{one})*$"


@dataclass(frozen=True)
class EventSuite:
    """The suite of one kind of event: what the contract says, as expectations."""

    name: str
    contract: Contract
    event_model: type[BaseModel]
    # Batch level: a batch where most rows lack one of these says the export lost a column.
    mostly_recorded: tuple[str, ...] = ()

    @property
    def _year(self) -> str:
        return self.contract.record_date.event[0]

    @property
    def _period(self) -> str:
        """The frame's column of year and month as one number (202403), for one bound."""
        return self._year.replace("_year", "_period")

    def frame(self, country: str, events: EventColumns) -> pd.DataFrame:
        """One row per event read (``transforms.rows.read_events``), as the suite reads
        it, built column by column (a dump of each event took three times as long). The
        linkage encoding is left out: no expectation reads it, and its schema was checked
        when the event was parsed."""
        year, month = self.contract.record_date.event
        lists = {f.event[0] for f in self.contract.carried() if f.multi_valued}
        names = [n for n in self.event_model.model_fields if n not in ("schema_version", "kind", "linkage")]
        columns = {name: events.values[name] for name in names}
        for name in lists:
            columns[name] = [";".join(v) if v else None for v in columns[name]]
        frame = pd.DataFrame(columns)
        # Codes repeat: as categories, each regular expression runs once per distinct value
        # and the filtering Great Expectations does per expectation copies integers.
        for field in self.contract.carried():
            frame[field.event[0]] = frame[field.event[0]].astype("category")
        frame["topic_country"] = country
        frame[self._period] = frame[year] * 100 + frame[month]
        frame["updated_at"] = pd.to_datetime(frame["updated_at"], utc=True)
        return frame

    def build(self, country: str, codelists: CodeLists, now: datetime) -> Any:
        """The suite for one country's events, as code: every field of the event is checked."""
        import great_expectations as gx
        from great_expectations import expectations as gxe

        suite = gx.ExpectationSuite(name=f"{self.name}_{country.lower()}")
        add = suite.add_expectation
        required = [*_ENVELOPE, *(name for f in self.contract.fields if f.required for name in f.event)]
        for column in required:
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
        for field in self.contract.carried():
            column = field.event[0]
            if field.kind in ("country", "countries"):
                many = field.kind == "countries"
                add(
                    gxe.ExpectColumnValuesToMatchRegex(
                        column=column,
                        regex=r"^[A-Z]{2}(?:;[A-Z]{2})*$" if many else r"^[A-Z]{2}$",
                        meta=row_meta(
                            f"{column}: not alpha-2 country codes" if many else f"{column}: not an alpha-2 country code"
                        ),
                    )
                )
                continue
            assert field.codelist is not None
            codes = codelists.codes(field.codelist)
            if not field.multi_valued:
                add(
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column,
                        value_set=list(codes),
                        meta=row_meta(f"{column}: not a code of the regional {field.codelist} list"),
                    )
                )
                continue
            add(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=column,
                    regex=_codes_regex(codes),
                    meta=row_meta(f"{column}: holds a code not in the regional {field.codelist} list"),
                )
            )
            # A category the country did not collect yet cannot be recorded for that year.
            for since in sorted({y for c in codes if (y := collected_since(country, field.codelist, c)) is not None}):
                allowed = [c for c in codes if (collected_since(country, field.codelist, c) or 0) < since]
                add(
                    gxe.ExpectColumnValuesToMatchRegex(
                        column=column,
                        regex=_codes_regex(allowed),
                        row_condition=f"{self._year} < {since}",
                        condition_parser="pandas",
                        meta=row_meta(f"{column}: holds a category {country} did not collect before {since}"),
                    )
                )
        for field in self.contract.of_kind("pseudonym"):
            column = field.event[0]
            add(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=column, regex=r"^[0-9a-f]{64}$", meta=row_meta(f"{column}: not a keyed pseudonym")
                )
            )
        youngest, oldest = field_bounds(self.event_model, self.contract.age)
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column=self.contract.age,
                min_value=youngest,
                max_value=oldest,
                meta=row_meta(f"{self.contract.age}: out of range {youngest}-{oldest}"),
            )
        )
        month = self.contract.record_date.event[1]
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column=month, min_value=1, max_value=12, meta=row_meta(f"{month}: not a month")
            )
        )
        dated = self.contract.record_date.column
        add(
            gxe.ExpectColumnValuesToBeBetween(
                column=self._period,
                min_value=FIRST_PERIOD,
                max_value=now.year * 100 + now.month,
                meta=row_meta(f"{dated}: before {FIRST_PERIOD // 100} or in the future"),
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
        for column in self.mostly_recorded:
            add(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=column,
                    mostly=0.5,
                    meta=batch_meta(f"{column}: not recorded for more than half of the batch"),
                )
            )
        return suite

    def prepare(self, country: str) -> None:
        """Build the country's validation before the first batch (runner.prepare)."""
        prepare(self.name, self.build, country)

    def validate(self, country: str, events: Sequence[BaseModel]) -> ValidationOutcome:
        """Which events of one micro-batch fail and why, the result redacted (runner.py)."""
        return self.validate_read(country, read_events(events, self.event_model))

    def validate_read(self, country: str, events: EventColumns) -> ValidationOutcome:
        """``validate``, of events already read (``transforms.rows.read_events``)."""
        if not events.count:
            return ValidationOutcome(summary={"expectations": 0, "expectations_failed": 0})
        return validate_frame(self.name, self.build, country, self.frame(country, events))


CASE_EVENTS = EventSuite(
    "case_events",
    VICTIMS,
    VictimEvent,
    mostly_recorded=("sex", "age_at_identification", "citizenship", "exploitation_types", "identified_by"),
)
PERPETRATOR_EVENTS = EventSuite("perpetrator_events", PERPETRATORS, PerpetratorEvent)
