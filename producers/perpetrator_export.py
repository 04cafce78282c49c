"""Reading perpetrators.csv of a national export (format v1).

The same rules as for victims: every row is checked, a refused row is reported by row
number, column and reason, and a reason never quotes the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from producers.code_mapping import CodeMapping
from producers.national_export import (
    _BIRTH,
    PERPETRATOR_REQUIRED,
    Refusal,
    _checked,
    _parse_datetime,
    _valid_birth,
    is_country,
    outside_contract_years,
    parse_date,
    row_values,
)
from transforms.codelists import CodeLists, load_codelists
from transforms.events import PerpetratorEvent, field_bounds

_REGISTERED_YEARS = field_bounds(PerpetratorEvent, "registered_year")

# Single-code columns and the regional list each takes.
_SINGLE_CODES = {
    "status": "status_perpetrator",
    "sex": "sex",
    "structure": "perpetrator_structure",
    "relation_to_victim": "relation_to_victim",
}


@dataclass(frozen=True)
class PerpetratorRow:
    """A checked perpetrator row. Holds identifying values: it never leaves the producer."""

    row: int
    record_id: str
    updated_at: datetime
    status: str
    case_ref: str | None
    given_name: str
    family_name: str
    birth: tuple[int, int | None, int | None] | None
    sex: str | None
    citizenship: str | None
    roles: tuple[str, ...] | None
    structure: str | None
    relation_to_victim: str | None
    registered_on: date


class PerpetratorRowChecker:
    """Checks perpetrators.csv rows of one country against the contract and the code lists."""

    def __init__(self, country: str, mapping: CodeMapping, codelists: CodeLists | None = None):
        self.country = country
        self.mapping = mapping
        self.codelists = codelists or load_codelists()

    def check(self, number: int, header: list[str], fields: list[str], today: date) -> PerpetratorRow | list[Refusal]:
        """A checked row, or every reason it is refused."""
        values, refusals = row_values(number, header, fields, PERPETRATOR_REQUIRED)
        if values is None:
            return refusals

        def refuse(column: str, reason: str) -> None:
            refusals.append(Refusal(number, column, reason))

        updated_at = _checked(values, "updated_at", _parse_datetime, refuse, "not an ISO 8601 date-time")
        registered_on = _checked(values, "registered_on", parse_date, refuse, "not a YYYY-MM-DD date")
        birth = None
        if values.get("date_of_birth"):
            match = _BIRTH.match(values["date_of_birth"])
            parts = tuple(int(g) if g else None for g in match.groups()) if match else None
            if parts is None or not _valid_birth(parts):
                refuse("date_of_birth", "not YYYY-MM-DD, YYYY-MM or YYYY")
            else:
                birth = (int(parts[0] or 0), parts[1], parts[2])
        if registered_on is not None:
            if registered_on > today:
                refuse("registered_on", "in the future")
            if reason := outside_contract_years(_REGISTERED_YEARS, registered_on):
                refuse("registered_on", reason)
            if birth is not None and (birth[0], birth[1] or 1, birth[2] or 1) > (
                registered_on.year,
                registered_on.month,
                registered_on.day,
            ):
                refuse("registered_on", "before the date of birth")
        if updated_at is not None and updated_at.date() > today:
            refuse("updated_at", "in the future")
        singles = {c: self._code(values.get(c, ""), c, lst, refuse) for c, lst in _SINGLE_CODES.items()}
        roles = self._roles(values.get("role", ""), refuse)
        citizenship = values.get("citizenship", "").upper()
        if citizenship and not is_country(citizenship):
            refuse("citizenship", "not an ISO 3166-1 alpha-2 country code")
        if refusals:
            return refusals
        assert updated_at is not None and registered_on is not None and singles["status"] is not None
        return PerpetratorRow(
            row=number,
            record_id=values["record_id"],
            updated_at=updated_at,
            status=singles["status"],
            case_ref=values.get("case_ref") or None,
            given_name=values["given_name"],
            family_name=values["family_name"],
            birth=birth,
            sex=singles["sex"],
            citizenship=citizenship or None,
            roles=roles,
            structure=singles["structure"],
            relation_to_victim=singles["relation_to_victim"],
            registered_on=registered_on,
        )

    def _code(self, value: str, column: str, codelist: str, refuse) -> str | None:  # type: ignore[no-untyped-def]
        if not value:
            return None
        code = self.mapping.to_regional(codelist, value)
        if code is None or not self.codelists.is_valid(codelist, code):
            refuse(column, f"not a code of the regional {codelist} list nor of {self.country}'s mapping")
            return None
        return code

    def _roles(self, value: str, refuse) -> tuple[str, ...] | None:  # type: ignore[no-untyped-def]
        codes: list[str] = []
        for part in (p.strip() for p in value.split(";")):
            if not part:
                continue
            code = self.mapping.to_regional("perpetrator_role", part)
            if code is None or not self.codelists.is_valid("perpetrator_role", code):
                refuse("role", f"holds a value that is not a code of the regional perpetrator_role list nor of "
                       f"{self.country}'s mapping")  # fmt: skip
                return None
            if code not in codes:
                codes.append(code)
        return tuple(codes) or None
