"""The victims' data contract, declared once: every column of the national export
(../shared/contracts/national-export-v1.md), what it becomes on the event, in the
warehouse and in queries.

The producer's row checker, the validation suite, the warehouse's content columns and
the trend queries read their lists from this table; the event model (transforms/events.py)
and the raw table (warehouse/sql/raw/010_raw.sql) are checked against it by
tests/unit/test_contract.py, so that a field added in one place and not the others fails
a test instead of a push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What a column holds, which decides how it is checked and carried:
# - identifying: a personal value; pseudonymised or used for linkage in the country, never sent
# - free_text: dropped at source
# - pseudonym: sent as a keyed hash
# - timestamp, date: checked as dates; the identification date travels as year and month
# - status, code: one code of a regional list; codes: ;-separated codes of a list
# - country, countries: ISO 3166-1 alpha-2 (XK for Kosovo), one or ;-separated
Kind = Literal[
    "identifying", "free_text", "pseudonym", "timestamp", "date", "birth", "status", "code", "codes", "country",
    "countries",
]  # fmt: skip


@dataclass(frozen=True)
class Field:
    column: str  # in the national export
    kind: Kind
    required: bool = False
    codelist: str | None = None  # the regional code list of a code, codes or status column
    event: tuple[str, ...] = ()  # the event's fields it becomes (none: it stays in the country)
    raw: tuple[str, ...] = ()  # raw_victim_events' columns it becomes
    dimension: str | None = None  # the query dimension it is counted by, if one


# fmt: off
VICTIM_FIELDS: tuple[Field, ...] = (
    Field("record_id", "pseudonym", True, event=("record_ref",), raw=("record_ref",)),
    Field("updated_at", "timestamp", True, event=("updated_at",), raw=("updated_at",)),
    Field("status", "status", True, "status_victim", ("status",), ("status",), "status"),
    Field("case_category", "code", False, "case_category", ("case_category",), ("case_category",), "case_category"),
    Field("case_ref", "pseudonym", event=("case_ref",), raw=("case_ref",)),
    Field("given_name", "identifying", True),
    Field("family_name", "identifying", True),
    # Travels as the age at identification; kept as an age band and minor or adult.
    Field("date_of_birth", "birth", event=("age_at_identification",), raw=("age_band", "age_group"),
          dimension="age_band"),
    Field("sex", "code", False, "sex", ("sex",), ("sex",), "sex"),
    Field("citizenship", "country", event=("citizenship",), raw=("citizenship",), dimension="citizenship"),
    Field("identified_on", "date", True, event=("identified_year", "identified_month"),
          raw=("identified_year", "identified_month"), dimension="year"),
    Field("identified_by", "code", False, "identified_by", ("identified_by",), ("identified_by",), "identified_by"),
    # v1.1: every agency that met the person, the lists of multiple systems estimation.
    Field("recorded_by", "codes", False, "identified_by", ("recorded_by",), ("recorded_by",)),
    Field("exploitation_types", "codes", False, "exploitation", ("exploitation_types",), ("exploitation_types",),
          "exploitation"),
    Field("country_of_exploitation", "country", event=("country_of_exploitation",), raw=("country_of_exploitation",),
          dimension="country_of_exploitation"),
    Field("recruited_in", "country", event=("recruited_in",), raw=("recruited_in",), dimension="recruited_in"),
    Field("transit_countries", "countries", event=("transit_countries",), raw=("transit_countries",),
          dimension="route"),
    Field("recruitment_method", "code", False, "recruitment", ("recruitment_method",), ("recruitment_method",),
          "recruitment"),
    Field("means_of_control", "codes", False, "means_of_control", ("means_of_control",), ("means_of_control",),
          "means_of_control"),
    Field("means_of_travel", "codes", False, "means_of_travel", ("means_of_travel",), ("means_of_travel",),
          "means_of_travel"),
    Field("means_of_communication", "codes", False, "means_of_communication", ("means_of_communication",),
          ("means_of_communication",), "means_of_communication"),
    Field("document_number", "identifying"),
    Field("phone", "identifying"),
    Field("address", "identifying"),
    Field("notes", "free_text"),
)
# fmt: on


def columns() -> tuple[str, ...]:
    """The export's columns, in the contract's order."""
    return tuple(f.column for f in VICTIM_FIELDS)


def required() -> tuple[str, ...]:
    return tuple(f.column for f in VICTIM_FIELDS if f.required)


def of_kind(*kinds: Kind) -> tuple[Field, ...]:
    return tuple(f for f in VICTIM_FIELDS if f.kind in kinds)


def multi_valued_dimensions() -> frozenset[str]:
    """Query dimensions under which one victim may count several times."""
    return frozenset(f.dimension for f in of_kind("codes") if f.dimension)


def content_columns() -> frozenset[str]:
    """raw_victim_events' columns that say something about the person (not positions,
    pseudonyms or load metadata): what a superseded version is stripped of."""
    return frozenset(c for f in VICTIM_FIELDS if f.kind not in ("pseudonym", "timestamp") for c in f.raw)
