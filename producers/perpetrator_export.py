"""Reading perpetrators.csv of a national export (format v1).

The same rules as for victims: every row is checked, a refused row is reported by row
number, column and reason, and a reason never quotes the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from producers.national_export import (
    PERPETRATOR_REQUIRED,
    Refusal,
    RowChecker,
    _checked,
    _parse_datetime,
    check_record_date,
    checked_birth,
    is_country,
    parse_date,
    row_values,
)
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


class PerpetratorRowChecker(RowChecker):
    """Checks perpetrators.csv rows of one country against the contract and the code lists."""

    def check(self, number: int, header: list[str], fields: list[str], today: date) -> PerpetratorRow | list[Refusal]:
        """A checked row, or every reason it is refused."""
        values, refusals = row_values(number, header, fields, PERPETRATOR_REQUIRED)
        if values is None:
            return refusals

        def refuse(column: str, reason: str) -> None:
            refusals.append(Refusal(number, column, reason))

        updated_at = _checked(values, "updated_at", _parse_datetime, refuse, "not an ISO 8601 date-time")
        registered_on = _checked(values, "registered_on", parse_date, refuse, "not a YYYY-MM-DD date")
        birth = checked_birth(values, refuse)
        if registered_on is not None:
            check_record_date("registered_on", registered_on, today, _REGISTERED_YEARS, birth, refuse)
        if updated_at is not None and updated_at.date() > today:
            refuse("updated_at", "in the future")
        singles = {c: self._code(values, c, lst, refuse) for c, lst in _SINGLE_CODES.items()}
        roles = self._codes(values, "role", "perpetrator_role", refuse)
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
