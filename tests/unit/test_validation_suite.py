"""Each kind of bad event is refused with its reason while the good events of the same
batch pass; batch-level findings warn without refusing rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from expectations.suites import CASE_EVENTS
from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from transforms.events import VictimEvent


def _events(country: str, n: int, year: int = 2024, forms: list[str] | None = None) -> list[VictimEvent]:
    profiles = [
        VictimProfile(f"{country}-{i}", date(year, 3, 4), "F", 16, country, forms or ["labour"]) for i in range(n)
    ]
    checker = VictimRowChecker(country, CodeMapping(country))
    pseudonymiser = Pseudonymiser(country, bytes(32), "a" * 32)
    events = []
    for row in victim_rows(country, profiles, 4):
        checked = checker.check(2, list(row), list(row.values()), date(2026, 1, 1))
        assert not isinstance(checked, list)
        events.append(pseudonymiser.pseudonymise_victim(checked))
    return events


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown code": ({"sex": "female"}, "sex: not a code of the regional sex list"),
    "unknown list code": ({"exploitation_types": ["sexual", "trafficking"]}, "exploitation_types: holds a code not in"),
    "another country": ({"country": "XK"}, "country: not the country of the topic"),
    "future identification": ({"identified_year": 2099}, "identified_on: before 1990 or in the future"),
    "future update": ({"updated_at": datetime.now(UTC) + timedelta(days=30)}, "updated_at: in the future"),
    "pseudonym format": ({"case_ref": "ab" * 10}, "case_ref: not a keyed pseudonym"),
    "code list version": ({"codelist_version": 7}, "codelist_version"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_event_is_refused_with_its_reason_and_the_rest_pass(kind: str) -> None:
    changes, reason = BAD[kind]
    events = _events("RS", 6)
    events[2] = events[2].model_copy(update=changes)
    outcome = CASE_EVENTS.validate("RS", events)
    assert set(outcome.failures) == {2}
    assert any(reason in r for r in outcome.failures[2]), outcome.failures


def test_a_category_not_collected_that_year_is_refused() -> None:
    before = _events("RS", 3, year=2006, forms=["begging"])
    after = _events("RS", 3, year=2008, forms=["begging"])
    outcome = CASE_EVENTS.validate("RS", [*before, *after])
    assert set(outcome.failures) == {0, 1, 2}
    assert "RS did not collect before 2007" in outcome.failures[0][0]
    assert not CASE_EVENTS.validate("MK", _events("MK", 2, year=2006, forms=["begging"])).failures  # MK always did


def test_a_batch_missing_a_field_warns_without_refusing_rows() -> None:
    events = [e.model_copy(update={"sex": None}) for e in _events("AL", 5)]
    outcome = CASE_EVENTS.validate("AL", events)
    assert not outcome.failures
    assert any("sex: not recorded for more than half" in w for w in outcome.warnings)


def test_the_stored_result_carries_no_failing_value() -> None:
    events = _events("RS", 4)
    events[1] = events[1].model_copy(update={"sex": "qwcanaryvalue"})
    outcome = CASE_EVENTS.validate("RS", events)
    assert "qwcanaryvalue" not in str(outcome.result.to_json_dict())
    assert outcome.failures == {1: ["sex: not a code of the regional sex list"]}
