import hashlib
from datetime import UTC, date, datetime

from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser, normalise_name
from producers.row_checker import CheckedRow, VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows

KEY = bytes(range(32))


def _event(key: bytes = KEY, **changes: str):  # type: ignore[no-untyped-def]
    (row,) = victim_rows("RS", [VictimProfile("RS-7", date(2024, 3, 2), "F", 16, "RS", ["sexual"])], seed=3)
    row.update(changes)
    header = list(row)
    checked = VictimRowChecker("RS", CodeMapping("RS")).check(2, header, list(row.values()), date(2026, 1, 1))
    assert not isinstance(checked, list)
    return row, Pseudonymiser("RS", key, "0" * 32).pseudonymise_victim(checked)


def test_no_identifying_value_is_in_the_event() -> None:
    row, event = _event()
    payload = event.to_bytes().decode()
    for column in (
        "given_name",
        "family_name",
        "date_of_birth",
        "document_number",
        "phone",
        "address",
        "notes",
        "record_id",
    ):
        assert row[column] not in payload, column


def test_the_same_record_gets_the_same_pseudonym_and_event_id() -> None:
    _, first = _event()
    _, again = _event()
    assert first.record_ref == again.record_ref
    assert first.event_id == again.event_id


def test_a_newer_version_is_a_new_event_of_the_same_record() -> None:
    _, first = _event()
    _, newer = _event(updated_at="2025-01-01T10:00:00+00:00")
    assert first.record_ref == newer.record_ref
    assert first.event_id != newer.event_id


def test_pseudonyms_are_keyed() -> None:
    _, ours = _event()
    _, other_key = _event(key=bytes(32))
    assert ours.record_ref != other_key.record_ref


def test_age_not_birth_date_travels() -> None:
    _, event = _event()
    assert event.age_at_identification == 16
    assert (event.identified_year, event.identified_month) == (2024, 3)


def test_names_fold_to_one_latin_form() -> None:
    assert normalise_name("Јована  Петровић") == normalise_name("JOVANA Petrović") == "jovana petrovic"


def test_event_ids_stay_what_earlier_versions_published() -> None:
    # A changed id would make a re-push of an already loaded version a second event.
    _, event = _event()
    assert (
        event.event_id
        == hashlib.sha256(f"RS|{event.record_ref}|{event.updated_at.isoformat()}".encode()).hexdigest()[:32]
    )
    pseudonymiser = Pseudonymiser("RS", KEY, "0" * 32)
    updated = datetime(2024, 5, 1, 12, tzinfo=UTC)
    row = CheckedRow("perpetrators", 2, "P-1", updated, None, "A", "B", None, date(2024, 5, 1), {"status": "suspected"})
    perpetrator = pseudonymiser.pseudonymise_perpetrator(row)
    identity = f"RS|perpetrator|{perpetrator.record_ref}|{updated.isoformat()}"
    assert perpetrator.event_id == hashlib.sha256(identity.encode()).hexdigest()[:32]
