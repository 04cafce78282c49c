"""The producer's row checks: refusals name row and column, never the value."""

from datetime import date
from pathlib import Path

import pytest

from producers.code_mapping import load_mapping
from producers.national_export import ExportRejected, open_export
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv

TODAY = date(2026, 11, 25)


def _export(tmp_path: Path, **changes: str) -> Path:
    (row,) = victim_rows("RS", [VictimProfile("RS-1", date(2024, 3, 2), "F", 16, "RS", ["sexual"])], seed=1)
    row.update(changes)
    return write_victims_csv(tmp_path / "victims.csv", [row])


def _check(path: Path, country: str = "RS"):  # type: ignore[no-untyped-def]
    _kind, header, rows = open_export(path)
    checker = VictimRowChecker(country, load_mapping(country))
    return [checker.check(n, header, f, TODAY) for n, f in rows]


def test_a_good_row_passes_and_keeps_its_codes(tmp_path: Path) -> None:
    (row,) = _check(_export(tmp_path))
    assert not isinstance(row, list)
    assert row.carried["exploitation_types"] == ("sexual",)
    assert row.birth is not None


def test_national_codes_are_mapped_to_regional_ones(tmp_path: Path) -> None:
    (row,) = _check(_export(tmp_path, exploitation_types="seksualna;prinudno_prosjacenje", identified_by="policija"))
    assert not isinstance(row, list)
    assert row.carried["exploitation_types"] == ("sexual", "begging")
    assert row.carried["identified_by"] == "police"


def test_recorded_by_names_every_agency_in_regional_codes(tmp_path: Path) -> None:
    (row,) = _check(_export(tmp_path, recorded_by="policija;ngo"))
    assert not isinstance(row, list)
    assert row.carried["recorded_by"] == ("police", "ngo")


def test_an_export_without_recorded_by_stays_valid(tmp_path: Path) -> None:
    (profile,) = victim_rows("RS", [VictimProfile("RS-1", date(2024, 3, 2), "F", 16, "RS", ["sexual"])], seed=1)
    columns = [c for c in profile if c != "recorded_by"]
    (row,) = _check(write_victims_csv(tmp_path / "victims.csv", [profile], columns))
    assert not isinstance(row, list)
    assert row.carried["recorded_by"] is None


def test_a_bad_agency_in_recorded_by_is_refused_by_column(tmp_path: Path) -> None:
    (refusals,) = _check(_export(tmp_path, recorded_by="police;Petrovic"))
    assert isinstance(refusals, list)
    assert [r.column for r in refusals] == ["recorded_by"]
    assert "Petrovic" not in str(refusals)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("sex", "Jovana", "not a code of the regional sex list"),
        ("status", "", "required, but empty"),
        ("given_name", "", "required, but empty"),
        ("identified_on", "02.03.2024", "not a YYYY-MM-DD date"),
        ("identified_on", "2030-01-01", "in the future"),
        ("date_of_birth", "1994-13-40", "not YYYY-MM-DD"),
        ("citizenship", "Serbia", "alpha-2"),
        ("exploitation_types", "sexual;Петровић", "not a code"),
        # Bounds of the event contract (transforms/events.py), checked at the row: before,
        # the event model refused them with a traceback that stopped the push.
        ("identified_on", "1985-06-01", "outside the years the regional contract covers (1990-2100)"),
        ("date_of_birth", "1900", "more than 120 years before identified_on"),
        # Only the contract's forms: an ISO week date or a basic date is no YYYY-MM-DD.
        ("identified_on", "2024W011", "not a YYYY-MM-DD date"),
        ("identified_on", "20240101", "not a YYYY-MM-DD date"),
        # Alpha-2 in form is not enough: ZZ is no country.
        ("citizenship", "ZZ", "not an ISO 3166-1 alpha-2 country code"),
        ("transit_countries", "RS;QQ", "alpha-2"),
    ],
)
def test_bad_values_are_refused_by_row_and_column_without_the_value(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    (refusals,) = _check(_export(tmp_path, **{column: value}))
    assert isinstance(refusals, list)
    text = "; ".join(str(r) for r in refusals)
    assert f"row 2, column {column}" in text
    assert reason in text
    if value:
        assert value not in text


def test_kosovo_and_every_region_country_are_country_codes(tmp_path: Path) -> None:
    from producers.row_checker import COUNTRY_CODES

    assert {"AL", "BA", "ME", "MK", "RS", "XK", "IT", "DE", "GR", "TR"} <= COUNTRY_CODES
    assert len(COUNTRY_CODES) == 250  # ISO 3166-1's 249 and XK
    (row,) = _check(_export(tmp_path, citizenship="XK", transit_countries="RS;MK"))
    assert not isinstance(row, list)


def test_birth_after_identification_is_refused(tmp_path: Path) -> None:
    (refusals,) = _check(_export(tmp_path, date_of_birth="2025-01-01"))
    assert isinstance(refusals, list)
    assert any(r.column == "identified_on" and "before the date of birth" in r.reason for r in refusals)


def test_unknown_columns_reject_the_file(tmp_path: Path) -> None:
    path = tmp_path / "victims.csv"
    path.write_text("record_id,updated_at,status,given_name,family_name,identified_on,mothers_name\n")
    with pytest.raises(ExportRejected, match="unknown column"):
        open_export(path)


def test_a_file_that_is_not_utf8_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "victims.csv"
    path.write_bytes("record_id,identified_on\nx,Петровић\n".encode("cp1251"))
    with pytest.raises(ExportRejected, match="not UTF-8"):
        open_export(path)


def test_a_row_with_too_many_fields_is_refused_not_misread(tmp_path: Path) -> None:
    path = _export(tmp_path)
    path.write_text(path.read_text() + "RS-2,a,b,c\n")
    results = _check(path)
    assert isinstance(results[1], list)
    assert "fields" in results[1][0].reason


def test_header_errors_name_columns_by_position_only(tmp_path: Path) -> None:
    # A data row where the header should be: its values are never echoed, even when
    # they look like column names.
    path = tmp_path / "victims.csv"
    path.write_text("record_id,updated_at,status,identified_on,jovana,petrovic\nRS-1,2024-01-01T00:00:00Z,x,y,a,b\n")
    with pytest.raises(ExportRejected) as rejected:
        open_export(path)
    assert "by position: 5, 6" in str(rejected.value)
    assert "jovana" not in str(rejected.value) and "petrovic" not in str(rejected.value)


def test_a_field_past_the_csv_limit_gets_its_own_reason(tmp_path: Path) -> None:
    (row,) = victim_rows("RS", [VictimProfile("RS-1", date(2024, 3, 2), "F", 16, "RS", ["sexual"])], seed=1)
    long_row = {**row, "address": "x" * 200_000}
    path = write_victims_csv(tmp_path / "victims.csv", [long_row, row])
    results = _check(path)
    assert isinstance(results[0], list)
    assert "longer than 131,072 characters" in str(results[0][0])
    assert not isinstance(results[-1], list)  # the next row still reads
