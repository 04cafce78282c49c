"""Generalisation of quasi-identifiers: what the warehouse keeps instead of exact values."""

from __future__ import annotations

from datetime import date

from transforms.codelists import NOT_RECORDED, load_codelists

ADULT_AGE = 18


def age_at(birth: tuple[int, int | None, int | None], on: date) -> int:
    """Completed years on ``on`` of a person born at ``birth`` (year, month?, day?).

    A birth date known only to the year or month is taken at the middle of what is
    known (1 July, or the 15th), so the error is at most half a year either way.
    """
    year, month, day = birth
    month = month or 7
    day = day or (15 if birth[1] else 1)
    age = on.year - year - ((on.month, on.day) < (month, day))
    return max(age, 0)


def age_band(age: int | None) -> str:
    """CTDC age band of an age in years, or ``not_recorded``."""
    if age is None:
        return NOT_RECORDED
    for band in load_codelists().age_bands:
        if band.contains(age):
            return band.label
    raise ValueError(f"no age band holds age {age}")


def age_group(age: int | None) -> str:
    """``minor`` or ``adult`` at identification, or ``unknown``."""
    if age is None:
        return "unknown"
    return "minor" if age < ADULT_AGE else "adult"
