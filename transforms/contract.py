"""The data contract, declared once: every column of the two national exports
(../shared/contracts/national-export-v1.md), what it becomes on the event, in the
warehouse and in queries.

The producers' row checkers, the pseudonymiser, the validation suites, the warehouse's
content columns and the trend queries read their lists from these tables; the event
models (transforms/events.py) and the raw tables (warehouse/sql/raw/) are checked against
them by tests/unit/test_contract.py, so that a field added in one place and not the
others fails a test instead of a push.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
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

    @property
    def multi_valued(self) -> bool:
        return self.kind in ("codes", "countries")


# fmt: off
# What both exports hold alike: the record and its version, the person's names, and the
# contact details and notes that stay in the country.
_RECORD = (
    Field("record_id", "pseudonym", True, event=("record_ref",), raw=("record_ref",)),
    Field("updated_at", "timestamp", True, event=("updated_at",), raw=("updated_at",)),
)
_CASE = Field("case_ref", "pseudonym", event=("case_ref",), raw=("case_ref",))
_NAMES = (Field("given_name", "identifying", True), Field("family_name", "identifying", True))
_CONTACT = (
    Field("document_number", "identifying"),
    Field("phone", "identifying"),
    Field("address", "identifying"),
    Field("notes", "free_text"),
)
_SEX = Field("sex", "code", False, "sex", ("sex",), ("sex",), "sex")
_CITIZENSHIP = Field("citizenship", "country", event=("citizenship",), raw=("citizenship",), dimension="citizenship")


def _birth(age: str) -> Field:
    """The date of birth, which travels as the age (``age``) at the record's date and is
    kept as an age band and minor or adult."""
    return Field("date_of_birth", "birth", event=(age,), raw=("age_band", "age_group"), dimension="age_band")


VICTIM_FIELDS: tuple[Field, ...] = (
    *_RECORD,
    Field("status", "status", True, "status_victim", ("status",), ("status",), "status"),
    Field("case_category", "code", False, "case_category", ("case_category",), ("case_category",), "case_category"),
    _CASE,
    *_NAMES,
    _birth("age_at_identification"),
    _SEX,
    _CITIZENSHIP,
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
    *_CONTACT,
)
# fmt: on


# fmt: off
PERPETRATOR_FIELDS: tuple[Field, ...] = (
    *_RECORD,
    Field("status", "status", True, "status_perpetrator", ("status",), ("status",), "status"),
    _CASE,
    *_NAMES,
    _birth("age_at_registration"),
    *_CONTACT,
    _SEX,
    _CITIZENSHIP,
    Field("role", "codes", False, "perpetrator_role", ("roles",), ("roles",), "role"),
    Field("structure", "code", False, "perpetrator_structure", ("structure",), ("structure",), "structure"),
    Field("relation_to_victim", "code", False, "relation_to_victim", ("relation_to_victim",),
          ("relation_to_victim",), "relation_to_victim"),
    Field("registered_on", "date", True, event=("registered_year", "registered_month"),
          raw=("registered_year", "registered_month"), dimension="year"),
)
# fmt: on


@dataclass(frozen=True)
class Contract:
    """One export's contract: its fields, and which of them dates the record."""

    export: str  # the export's kind, as national_export.detect_kind names it
    fields: tuple[Field, ...]

    def columns(self) -> tuple[str, ...]:
        """The export's columns, in the contract's order."""
        return tuple(f.column for f in self.fields)

    def required(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields if f.required)

    def of_kind(self, *kinds: Kind) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind in kinds)

    # Read for every event the hub loads: looked up once per contract.
    @cached_property
    def record_date(self) -> Field:
        """The date the record is counted by (identification, registration): it travels as
        year and month, and the age is taken at it."""
        (field,) = self.of_kind("date")
        return field

    @cached_property
    def age(self) -> str:
        """The event's field of the age at the record date."""
        (field,) = self.of_kind("birth")
        return field.event[0]

    def carried(self) -> tuple[Field, ...]:
        """The code and country fields, carried from row to event as they are (one value, or
        a tuple on the row that becomes a list on the event)."""
        return self.of_kind("status", "code", "codes", "country", "countries")

    def multi_valued_dimensions(self) -> frozenset[str]:
        """Query dimensions under which one person may count several times."""
        return frozenset(f.dimension for f in self.of_kind("codes") if f.dimension)

    def content_columns(self) -> frozenset[str]:
        """The raw table's columns that say something about the person (not positions,
        pseudonyms or load metadata): what a superseded version is stripped of."""
        return frozenset(c for f in self.fields if f.kind not in ("pseudonym", "timestamp") for c in f.raw)


VICTIMS = Contract("victims", VICTIM_FIELDS)
PERPETRATORS = Contract("perpetrators", PERPETRATOR_FIELDS)
