"""The row checkers and the event model agree on every bound the schema declares.

Hypothesis draws identification, registration and birth dates across and beyond the
contract's years: a row the checker accepts always becomes an event (the model never
raises on it), and a date outside a bound is refused by the checker, naming its column.
"""

from __future__ import annotations

from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st

from producers.code_mapping import load_mapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import PerpetratorRowChecker, VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from producers.synthetic_perpetrators import PerpetratorProfile, perpetrator_rows
from transforms.events import PerpetratorEvent, VictimEvent, field_bounds

TODAY = date(2026, 11, 25)
PSEUDONYMISER = Pseudonymiser("RS", bytes(32), "0" * 32)
DATES = st.dates(date(1880, 1, 1), date(2200, 12, 31))
BIRTHS = st.one_of(st.none(), st.dates(date(1850, 1, 1), date(2200, 12, 31)))


def _inside(model: type, field: str, value: int) -> bool:
    low, high = field_bounds(model, field)
    return (low is None or value >= low) and (high is None or value <= high)


@settings(max_examples=300, deadline=None)
@given(identified=DATES, birth=BIRTHS)
@example(identified=date(2026, 1, 5), birth=date(1901, 1, 1))
def test_a_victim_row_is_refused_by_the_checker_or_accepted_by_the_model(identified: date, birth: date | None) -> None:
    (row,) = victim_rows("RS", [VictimProfile("RS-1", date(2024, 3, 2), "F", 30, "RS", ["labour"])], seed=1)
    row.update(identified_on=identified.isoformat(), date_of_birth=birth.isoformat() if birth else "")
    checked = VictimRowChecker("RS", load_mapping("RS")).check(2, list(row), list(row.values()), TODAY)
    if isinstance(checked, list):
        assert {r.column for r in checked} <= {"identified_on", "date_of_birth"}, checked
    else:
        event = PSEUDONYMISER.pseudonymise_victim(checked)  # a ValidationError here is the bug
        assert event.identified_year == identified.year
    if not _inside(VictimEvent, "identified_year", identified.year) or identified > TODAY:
        assert isinstance(checked, list) and any(r.column == "identified_on" for r in checked)


@settings(max_examples=300, deadline=None)
@given(registered=DATES, birth=BIRTHS)
# Born more than 120 years before registration: the perpetrator checker once let it
# through to the event model, which refused it (the victim checker had the rule).
@example(registered=date(2026, 1, 5), birth=date(1901, 1, 1))
def test_a_perpetrator_row_is_refused_by_the_checker_or_accepted_by_the_model(
    registered: date, birth: date | None
) -> None:
    profile = PerpetratorProfile("RS-P-1", None, date(2024, 3, 2), "M", 40, "RS", ["recruiter"], None, None)
    (row,) = perpetrator_rows("RS", [profile], seed=1)
    row.update(registered_on=registered.isoformat(), date_of_birth=birth.isoformat() if birth else "")
    checked = PerpetratorRowChecker("RS", load_mapping("RS")).check(2, list(row), list(row.values()), TODAY)
    if isinstance(checked, list):
        assert {r.column for r in checked} <= {"registered_on", "date_of_birth"}, checked
    else:
        event = PSEUDONYMISER.pseudonymise_perpetrator(checked)
        assert event.registered_year == registered.year
    if not _inside(PerpetratorEvent, "registered_year", registered.year) or registered > TODAY:
        assert isinstance(checked, list) and any(r.column == "registered_on" for r in checked)
