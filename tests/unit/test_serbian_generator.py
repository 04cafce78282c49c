"""The generator of records behind the published Serbian table deals the cells exactly."""

from collections import Counter
from pathlib import Path

from producers.synthetic import profiles_matching_table

TABLE = Path(__file__).resolve().parents[3] / "shared" / "acceptance" / "serbia_2005_2010.csv"


def test_profiles_reproduce_totals_and_exploitation_cells() -> None:
    profiles = profiles_matching_table(TABLE)
    per_year = Counter(p.identified_on.year for p in profiles)
    assert per_year == {2005: 53, 2006: 62, 2007: 60, 2008: 55, 2009: 127, 2010: 85}
    begging_2007 = sum(1 for p in profiles if p.identified_on.year == 2007 and "begging" in (p.exploitation or []))
    assert begging_2007 == 10
    assert all(len(set(p.exploitation or [])) == len(p.exploitation or []) for p in profiles)
    assert all(p.identified_on.month < 12 for p in profiles if p.identified_on.year == 2010)
