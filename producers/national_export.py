"""Reading a national export (format v1, ../shared/contracts/national-export-v1.md).

Every row is checked against the contract. A refused row is reported by its row number,
column and reason; the reason never quotes the value, since any column may hold a
personal value typed in the wrong place.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from producers.code_mapping import CodeMapping
from transforms import contract
from transforms.codelists import CodeLists, load_codelists
from transforms.events import VictimEvent, field_bounds

# The export's columns and what each takes come from the contract (transforms/contract.py).
VICTIM_COLUMNS = contract.columns()
VICTIM_REQUIRED = contract.required()
PERPETRATOR_COLUMNS = (
    "record_id",
    "updated_at",
    "status",
    "case_ref",
    "given_name",
    "family_name",
    "date_of_birth",
    "document_number",
    "phone",
    "address",
    "notes",
    "sex",
    "citizenship",
    "role",
    "structure",
    "relation_to_victim",
    "registered_on",
)
PERPETRATOR_REQUIRED = ("record_id", "updated_at", "status", "given_name", "family_name", "registered_on")

# Single-code columns, ;-separated code columns and country columns, with their code lists.
_SINGLE_CODES = {f.column: f.codelist for f in contract.of_kind("code") if f.codelist}
_MULTI_CODES = {f.column: f.codelist for f in contract.of_kind("codes") if f.codelist}
_COUNTRY_COLUMNS = tuple(f.column for f in contract.of_kind("country"))
# The contract's only date form: YYYY-MM-DD (date.fromisoformat alone would also take
# ISO week dates such as 2024W011 and basic dates such as 20240101).
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


# The event contract's bounds (transforms/events.py), read once: the row checkers refuse
# what the event model would, so a row never reaches it to fail there.
IDENTIFIED_YEARS = field_bounds(VictimEvent, "identified_year")
OLDEST_AT_IDENTIFICATION = field_bounds(VictimEvent, "age_at_identification")[1] or 120


def outside_contract_years(years: tuple[int | None, int | None], day: date) -> str | None:
    """The refusal reason when ``day``'s year is outside ``years``, else None."""
    low, high = years
    if (low or 0) <= day.year <= (high or 9999):
        return None
    return f"outside the years the regional contract covers ({low}-{high})"


_BIRTH = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
MAX_FIELD_CHARS = 10_000
_TOO_LONG = "\x00field too long"  # marks a row whose field passed the CSV reader's limit


class ExportRejected(ValueError):
    """The whole file cannot be read (encoding, header); the message names no value."""


@dataclass(frozen=True)
class Refusal:
    row: int  # row number as a spreadsheet shows it: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass(frozen=True)
class VictimRow:
    """A checked victim row. Holds identifying values: it never leaves the producer."""

    row: int
    record_id: str
    updated_at: datetime
    status: str
    case_category: str | None
    case_ref: str | None
    given_name: str
    family_name: str
    birth: tuple[int, int | None, int | None] | None
    sex: str | None
    citizenship: str | None
    identified_on: date
    identified_by: str | None
    recorded_by: tuple[str, ...] | None
    exploitation_types: tuple[str, ...] | None
    country_of_exploitation: str | None
    recruited_in: str | None
    transit_countries: tuple[str, ...] | None
    recruitment_method: str | None
    means_of_control: tuple[str, ...] | None
    means_of_travel: tuple[str, ...] | None
    means_of_communication: tuple[str, ...] | None


def detect_kind(header: list[str]) -> str:
    """``victims`` or ``perpetrators``, from the header alone."""
    names = set(header)
    if "identified_on" in names:
        return "victims"
    if "registered_on" in names:
        return "perpetrators"
    raise ExportRejected(
        "cannot tell the kind of export: the header has neither identified_on (victims.csv)"
        " nor registered_on (perpetrators.csv)"
    )


_CHUNK = 1 << 20  # bytes read at a time: an export of any size is read in bounded memory


def open_export(path: Path, handle: BinaryIO | None = None) -> tuple[str, list[str], Iterator[tuple[int, list[str]]]]:
    """Open a national export: its kind, header and an iterator of (row number, fields).

    The file is streamed, never held whole: a first pass checks that it is UTF-8 text
    without NUL characters (so a bad byte refuses the file before any row is published),
    then the rows are read as they are consumed. ``handle``: the file already opened, in
    binary, by a caller that changed account after opening it; closed when the rows end."""
    stream = path.open("rb") if handle is None else handle
    try:
        _check_text(stream)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise ExportRejected("the file is empty: no header row") from None
        except csv.Error:
            raise ExportRejected("the header row is not valid CSV") from None
        kind, header = _checked_header(header)
    except BaseException:
        stream.close()
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            while True:
                number += 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    # An empty list marks a row the CSV reader could not split; a field past
                    # the reader's limit is said as such, not as unbalanced quotes.
                    yield number, [_TOO_LONG] if "field larger than field limit" in str(error) else []
                    continue
                if fields:
                    yield number, fields
        finally:
            stream.close()

    return kind, header, rows()


def _check_text(stream: BinaryIO) -> None:
    """Refuse a file that is not UTF-8 text, or holds NUL characters, reading it once in
    chunks; then go back to its start."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while chunk := stream.read(_CHUNK):
        if b"\x00" in chunk:
            raise ExportRejected("the file holds NUL characters: it is not a CSV text export")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise ExportRejected(
                f"the file is not UTF-8 text (first bad byte at offset {offset + error.start});"
                " export it again as UTF-8"
            ) from None
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ExportRejected(
            "the file is not UTF-8 text (it ends inside a character); export it again as UTF-8"
        ) from None
    stream.seek(0)


def _checked_header(header: list[str]) -> tuple[str, list[str]]:
    """The export's kind and its header, or ExportRejected naming columns by position."""
    header = [name.strip() for name in header]
    kind = detect_kind(header)
    known = VICTIM_COLUMNS if kind == "victims" else PERPETRATOR_COLUMNS
    unknown = [(i, n) for i, n in enumerate(header, start=1) if n not in known]
    if unknown:
        # By position only: a header row that is really a data row (or a name typed into
        # the header) must not be echoed, whatever it looks like.
        shown = ", ".join(str(i) for i, _name in unknown[:10])
        raise ExportRejected(f"unknown column(s) in the header, by position: {shown}")
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise ExportRejected(f"column(s) appear twice in the header: {', '.join(duplicated)}")
    required = VICTIM_REQUIRED if kind == "victims" else PERPETRATOR_REQUIRED
    missing = [n for n in required if n not in header]
    if missing:
        raise ExportRejected(f"required column(s) missing from the header: {', '.join(missing)}")

    return kind, header


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    # In UTC here, so a time at the edge of the calendar (0001-01-01T00:00+05:00) is
    # refused as a value, not a crash later.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def row_values(
    number: int, header: list[str], fields: list[str], required: Iterable[str]
) -> tuple[dict[str, str] | None, list[Refusal]]:
    """A row's values by column and the refusals every kind of export shares: the CSV
    shape (then no values), over-long fields (blanked) and empty required columns."""
    if not fields:
        return None, [Refusal(number, "*", "the row is not valid CSV (unbalanced quotes?)")]
    if fields == [_TOO_LONG]:
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


Birth = tuple[int, int | None, int | None]


def checked_birth(values: dict[str, str], refuse: Callable[[str, str], None]) -> Birth | None:
    """The date of birth at the precision the country has (year, month, day), or None."""
    if not values.get("date_of_birth"):
        return None
    match = _BIRTH.match(values["date_of_birth"])
    parts = tuple(int(g) if g else None for g in match.groups()) if match else None
    if parts is None or not _valid_birth(parts):
        refuse("date_of_birth", "not YYYY-MM-DD, YYYY-MM or YYYY")
        return None
    return (int(parts[0] or 0), parts[1], parts[2])


def check_record_date(
    column: str,
    day: date,
    today: date,
    years: tuple[int | None, int | None],
    birth: Birth | None,
    refuse: Callable[[str, str], None],
) -> None:
    """An identification or registration date: not in the future, within the contract's
    years, not before the person was born."""
    if day > today:
        refuse(column, "in the future")
    if reason := outside_contract_years(years, day):
        refuse(column, reason)
    if birth is not None and (birth[0], birth[1] or 1, birth[2] or 1) > (day.year, day.month, day.day):
        refuse(column, "before the date of birth")


class RowChecker:
    """What checking a row of either export needs: the country, its code mapping, the
    regional code lists, and the code columns' checks."""

    def __init__(self, country: str, mapping: CodeMapping, codelists: CodeLists | None = None):
        self.country = country
        self.mapping = mapping
        self.codelists = codelists or load_codelists()

    def _code(self, values: dict[str, str], column: str, codelist: str, refuse) -> str | None:  # type: ignore[no-untyped-def]
        value = values.get(column, "")
        if not value:
            return None
        code = self.mapping.to_regional(codelist, value)
        if code is None or not self.codelists.is_valid(codelist, code):
            refuse(column, f"not a code of the regional {codelist} list nor of {self.country}'s mapping")
            return None
        return code

    def _codes(self, values: dict[str, str], column: str, codelist: str, refuse) -> tuple[str, ...] | None:  # type: ignore[no-untyped-def]
        value = values.get(column, "")
        if not value:
            return None
        codes = []
        for part in (p.strip() for p in value.split(";")):
            if not part:
                continue
            code = self.mapping.to_regional(codelist, part)
            if code is None or not self.codelists.is_valid(codelist, code):
                refuse(
                    column,
                    f"holds a value that is not a code of the regional {codelist} list nor of {self.country}'s mapping",
                )
                return None
            if code not in codes:
                codes.append(code)
        return tuple(codes) or None


class VictimRowChecker(RowChecker):
    """Checks victims.csv rows of one country against the contract and the code lists."""

    def check(self, number: int, header: list[str], fields: list[str], today: date) -> VictimRow | list[Refusal]:
        """A checked row, or every reason it is refused."""
        values, refusals = row_values(number, header, fields, VICTIM_REQUIRED)
        if values is None:
            return refusals

        def refuse(column: str, reason: str) -> None:
            refusals.append(Refusal(number, column, reason))

        updated_at = _checked(values, "updated_at", _parse_datetime, refuse, "not an ISO 8601 date-time")
        identified_on = _checked(values, "identified_on", parse_date, refuse, "not a YYYY-MM-DD date")
        status = self._code(values, "status", "status_victim", refuse)
        birth = checked_birth(values, refuse)
        if identified_on is not None:
            check_record_date("identified_on", identified_on, today, IDENTIFIED_YEARS, birth, refuse)
            if birth is not None and identified_on.year - birth[0] - 1 > OLDEST_AT_IDENTIFICATION:
                refuse("date_of_birth", f"more than {OLDEST_AT_IDENTIFICATION} years before identified_on")
        if updated_at is not None and updated_at.date() > today:
            refuse("updated_at", "in the future")

        singles = {c: self._code(values, c, lst, refuse) for c, lst in _SINGLE_CODES.items()}
        multis = {c: self._codes(values, c, lst, refuse) for c, lst in _MULTI_CODES.items()}
        countries = {}
        for column in _COUNTRY_COLUMNS:
            value = values.get(column, "").upper()
            if value and not is_country(value):
                refuse(column, "not an ISO 3166-1 alpha-2 country code (or XK)")
            countries[column] = value or None
        transit = None
        if values.get("transit_countries"):
            transit = tuple(c.strip().upper() for c in values["transit_countries"].split(";") if c.strip())
            if not all(is_country(c) for c in transit):
                refuse("transit_countries", "not a ;-separated list of alpha-2 country codes")

        if refusals:
            return refusals
        assert updated_at is not None and identified_on is not None and status is not None
        return VictimRow(
            row=number,
            record_id=values["record_id"],
            updated_at=updated_at,
            status=status,
            case_category=singles["case_category"],
            case_ref=values.get("case_ref") or None,
            given_name=values["given_name"],
            family_name=values["family_name"],
            birth=birth,
            sex=singles["sex"],
            citizenship=countries["citizenship"],
            identified_on=identified_on,
            identified_by=singles["identified_by"],
            recorded_by=multis["recorded_by"],
            exploitation_types=multis["exploitation_types"],
            country_of_exploitation=countries["country_of_exploitation"],
            recruited_in=countries["recruited_in"],
            transit_countries=transit or None,
            recruitment_method=singles["recruitment_method"],
            means_of_control=multis["means_of_control"],
            means_of_travel=multis["means_of_travel"],
            means_of_communication=multis["means_of_communication"],
        )


def _checked(values, column, parse, refuse, reason):  # type: ignore[no-untyped-def]
    text = values.get(column, "")
    if not text:
        return None
    try:
        return parse(text)
    except (ValueError, OverflowError):
        refuse(column, reason)
        return None


def _valid_birth(parts: tuple[int | None, ...]) -> bool:
    year, month, day = parts
    try:
        date(year or 0, month or 1, day or 1)
    except ValueError:
        return False
    return 1900 <= (year or 0)
