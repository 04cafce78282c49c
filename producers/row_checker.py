"""Checking the rows of a national export against the contract (transforms/contract.py).

One checker serves both exports: what a column takes (a code of a regional list, codes,
a country, a date) is the contract's, and the bounds are the event model's
(transforms/events.py), read once, so a row the checker accepts is never one the event
model would refuse. A refused row is reported by row number, column and reason; the
reason never quotes the value.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import ClassVar

from pydantic import BaseModel

from producers.code_mapping import CodeMapping
from producers.national_export import TOO_LONG, Refusal
from transforms.codelists import CodeLists, load_codelists
from transforms.contract import PERPETRATORS, VICTIMS, Contract, Field
from transforms.events import PerpetratorEvent, VictimEvent, field_bounds

MAX_FIELD_CHARS = 10_000
# The contract's only date form: YYYY-MM-DD (date.fromisoformat alone would also take
# ISO week dates such as 2024W011 and basic dates such as 20240101).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BIRTH = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

Birth = tuple[int, int | None, int | None]  # year, and month and day where the country has them
Carried = str | tuple[str, ...] | None
Refuse = Callable[[str, str], None]


@dataclass(frozen=True)
class CheckedRow:
    """A checked row of either export. Holds identifying values: it never leaves the producer."""

    kind: str  # victims or perpetrators
    row: int
    record_id: str
    updated_at: datetime
    case_ref: str | None
    given_name: str
    family_name: str
    birth: Birth | None
    recorded_on: date  # identified_on (victims) or registered_on (perpetrators)
    # The code and country columns, by the event field each becomes, as checked: one code,
    # or a tuple of codes for a ;-separated column; None where not recorded.
    carried: Mapping[str, Carried]


def parse_date(text: str) -> date:
    if not _DATE.match(text):
        raise ValueError("not YYYY-MM-DD")
    return date.fromisoformat(text)


def _iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes and Kosovo's XK, from CLDR's territories (Babel), less
    CLDR's codes that are not countries (EU, UN, exceptional reservations, ZZ)."""
    from babel import Locale

    not_countries = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "TA", "UN", "QO", "XA", "XB", "ZZ"}
    territories = Locale("en").territories
    codes = (str(c) for c in territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in not_countries)


COUNTRY_CODES = _iso_countries()


def is_country(code: str) -> bool:
    return code in COUNTRY_CODES


def outside_contract_years(years: tuple[int | None, int | None], day: date) -> str | None:
    """The refusal reason when ``day``'s year is outside ``years``, else None."""
    low, high = years
    if (low or 0) <= day.year <= (high or 9999):
        return None
    return f"outside the years the regional contract covers ({low}-{high})"


def row_values(
    number: int, header: list[str], fields: list[str], required: Iterable[str]
) -> tuple[dict[str, str] | None, list[Refusal]]:
    """A row's values by column and the refusals that come before any column's meaning:
    the CSV shape (then no values), over-long fields (blanked) and empty required columns."""
    if not fields:
        return None, [Refusal(number, "*", "the row is not valid CSV (unbalanced quotes?)")]
    if fields == [TOO_LONG]:
        return None, [Refusal(number, "*", f"a field is longer than {csv.field_size_limit():,} characters")]
    if len(fields) != len(header):
        return None, [Refusal(number, "*", f"the row has {len(fields)} fields, the header {len(header)}")]
    values = {name: value.strip() for name, value in zip(header, fields, strict=True)}
    refusals: list[Refusal] = []
    for column, value in values.items():
        if len(value) > MAX_FIELD_CHARS:
            refusals.append(Refusal(number, column, f"longer than {MAX_FIELD_CHARS} characters"))
            values[column] = ""
    refusals.extend(Refusal(number, column, "required, but empty") for column in required if not values.get(column))
    return values, refusals


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    # In UTC here, so a time at the edge of the calendar (0001-01-01T00:00+05:00) is
    # refused as a value, not a crash later.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _checked(values, column, parse, refuse, reason):  # type: ignore[no-untyped-def]
    text = values.get(column, "")
    if not text:
        return None
    try:
        return parse(text)
    except (ValueError, OverflowError):
        refuse(column, reason)
        return None


def checked_birth(values: dict[str, str], refuse: Refuse) -> Birth | None:
    """The date of birth at the precision the country has (year, month, day), or None."""
    if not values.get("date_of_birth"):
        return None
    match = _BIRTH.match(values["date_of_birth"])
    parts = tuple(int(g) if g else None for g in match.groups()) if match else None
    if parts is None or not _valid_birth(parts):
        refuse("date_of_birth", "not YYYY-MM-DD, YYYY-MM or YYYY")
        return None
    return (int(parts[0] or 0), parts[1], parts[2])


def _valid_birth(parts: tuple[int | None, ...]) -> bool:
    year, month, day = parts
    try:
        date(year or 0, month or 1, day or 1)
    except ValueError:
        return False
    return 1900 <= (year or 0)


class RowChecker:
    """Checks one export's rows of one country against the contract, the country's code
    mapping and the regional code lists. A subclass names the export's contract and event."""

    contract: ClassVar[Contract]
    event_model: ClassVar[type[BaseModel]]

    def __init__(self, country: str, mapping: CodeMapping, codelists: CodeLists | None = None):
        self.country = country
        self.mapping = mapping
        self.codelists = codelists or load_codelists()
        # The event model's bounds, read once: what the model would refuse is refused here.
        self._years = field_bounds(self.event_model, self.contract.record_date.event[0])
        self._oldest = field_bounds(self.event_model, self.contract.age)[1] or 120
        # What every row needs from the contract, read once rather than per row.
        self._required = self.contract.required()
        self._dated = self.contract.record_date.column
        self._carried_fields = self.contract.carried()

    def check(self, number: int, header: list[str], fields: list[str], today: date) -> CheckedRow | list[Refusal]:
        """A checked row, or every reason it is refused."""
        values, refusals = row_values(number, header, fields, self._required)
        if values is None:
            return refusals

        def refuse(column: str, reason: str) -> None:
            refusals.append(Refusal(number, column, reason))

        updated_at = _checked(values, "updated_at", _parse_datetime, refuse, "not an ISO 8601 date-time")
        if updated_at is not None and updated_at.date() > today:
            refuse("updated_at", "in the future")
        dated = self._dated
        recorded_on = _checked(values, dated, parse_date, refuse, "not a YYYY-MM-DD date")
        birth = checked_birth(values, refuse)
        if recorded_on is not None:
            self._check_record_date(dated, recorded_on, today, birth, refuse)
        carried = {f.event[0]: self._carried(values, f, refuse) for f in self._carried_fields}
        if refusals:
            return refusals
        assert updated_at is not None and recorded_on is not None
        return CheckedRow(
            kind=self.contract.export,
            row=number,
            record_id=values["record_id"],
            updated_at=updated_at,
            case_ref=values.get("case_ref") or None,
            given_name=values["given_name"],
            family_name=values["family_name"],
            birth=birth,
            recorded_on=recorded_on,
            carried=carried,
        )

    def _check_record_date(self, column: str, day: date, today: date, birth: Birth | None, refuse: Refuse) -> None:
        """The identification or registration date: not in the future, within the
        contract's years, not before the person was born, nor past the oldest age."""
        if day > today:
            refuse(column, "in the future")
        if reason := outside_contract_years(self._years, day):
            refuse(column, reason)
        if birth is None:
            return
        if (birth[0], birth[1] or 1, birth[2] or 1) > (day.year, day.month, day.day):
            refuse(column, "before the date of birth")
        if day.year - birth[0] - 1 > self._oldest:
            refuse("date_of_birth", f"more than {self._oldest} years before {column}")

    def _carried(self, values: dict[str, str], field: Field, refuse: Refuse) -> Carried:
        """One code or country column, checked; a ;-separated one as a tuple, each value once."""
        value = values.get(field.column, "")
        if not value:
            return None
        if field.kind in ("country", "countries"):
            countries = tuple(dict.fromkeys(c.strip().upper() for c in value.split(";") if c.strip()))
            if (field.kind == "country" and len(countries) != 1) or not all(is_country(c) for c in countries):
                one = field.kind == "country"
                refuse(
                    field.column,
                    "not an ISO 3166-1 alpha-2 country code (or XK)"
                    if one
                    else "not a ;-separated list of alpha-2 country codes",
                )
                return None
            return countries[0] if field.kind == "country" else countries
        assert field.codelist is not None
        codes = []
        for part in value.split(";") if field.multi_valued else [value]:
            if not part.strip():
                continue
            code = self.mapping.to_regional(field.codelist, part.strip())
            if code is None or not self.codelists.is_valid(field.codelist, code):
                holds = "holds a value that is not" if field.multi_valued else "not"
                refuse(
                    field.column,
                    f"{holds} a code of the regional {field.codelist} list nor of {self.country}'s mapping",
                )
                return None
            codes.append(code)
        codes = list(dict.fromkeys(codes))
        if not field.multi_valued:
            return codes[0]
        return tuple(codes) or None


class VictimRowChecker(RowChecker):
    """Checks victims.csv rows."""

    contract = VICTIMS
    event_model = VictimEvent


class PerpetratorRowChecker(RowChecker):
    """Checks perpetrators.csv rows."""

    contract = PERPETRATORS
    event_model = PerpetratorEvent


def row_checker(kind: str, country: str, mapping: CodeMapping) -> RowChecker:
    """The checker of an export of ``kind`` (victims or perpetrators)."""
    return VictimRowChecker(country, mapping) if kind == "victims" else PerpetratorRowChecker(country, mapping)
