from datetime import date

import pytest

from disclosure.generalise import age_at, age_band, age_group


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "0-8"),
        (8, "0-8"),
        (9, "9-17"),
        (17, "9-17"),
        (18, "18-20"),
        (29, "27-29"),
        (47, "39-47"),
        (48, "48+"),
        (90, "48+"),
    ],
)
def test_age_bands_are_ctdcs(age: int, band: str) -> None:
    assert age_band(age) == band


def test_unknown_age_is_not_recorded_not_a_band() -> None:
    assert age_band(None) == "not_recorded"
    assert age_group(None) == "unknown"


def test_minor_until_the_eighteenth_birthday() -> None:
    assert age_group(age_at((2000, 5, 10), date(2018, 5, 9))) == "minor"
    assert age_group(age_at((2000, 5, 10), date(2018, 5, 10))) == "adult"


def test_birth_known_to_the_year_is_taken_mid_year() -> None:
    assert age_at((2000, None, None), date(2018, 6, 30)) == 17
    assert age_at((2000, None, None), date(2018, 7, 1)) == 18
