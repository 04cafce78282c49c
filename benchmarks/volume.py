"""National exports of any size, fast: a pool of synthetic victims, varied cheaply.

Faker draws a few thousand names per second, far too slow for a million rows. A pool of
complete rows (names, dates, codes) is drawn once with the project's own generator and
each output row copies one pool row under a new record id, case reference and
identification date, so every record id is unique and every row passes the contract.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from producers.national_export import VICTIM_COLUMNS
from producers.synthetic import VictimProfile, demo_profiles, victim_rows

POOL_SIZE = 2000


def _pool(country: str, seed: int) -> list[dict[str, str]]:
    profiles: list[VictimProfile] = []
    while len(profiles) < POOL_SIZE:
        profiles.extend(demo_profiles(country, seed + len(profiles)))
    return victim_rows(country, profiles[:POOL_SIZE], seed)


def write_volume_export(path: Path, country: str, n: int, seed: int = 1, first_year: int = 2010) -> Path:
    """Write a victims.csv of ``n`` rows with unique record ids; returns ``path``."""
    rng = random.Random(seed)
    pool = _pool(country, seed)
    columns = list(VICTIM_COLUMNS)
    record_col, case_col = columns.index("record_id"), columns.index("case_ref")
    identified_col, updated_col = columns.index("identified_on"), columns.index("updated_at")
    birth_col = columns.index("date_of_birth")
    template = [[row[c] for c in columns] for row in pool]
    # Identification dates spread over the years up to last year; birth dates move with them.
    days = (date(datetime.now(UTC).year - 1, 12, 31) - date(first_year, 1, 1)).days
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(n):
            row = list(template[i % POOL_SIZE])
            record_id = f"{country}-B{seed:03d}-{i:08d}"
            original = date.fromisoformat(row[identified_col])
            identified = date(first_year, 1, 1) + timedelta(days=rng.randrange(days))
            shift = identified - original
            row[record_col] = record_id
            row[case_col] = f"{country}-C-{record_id}"
            row[identified_col] = identified.isoformat()
            row[updated_col] = datetime.combine(identified + timedelta(days=3), datetime.min.time(), UTC).isoformat()
            if row[birth_col]:
                row[birth_col] = (date.fromisoformat(row[birth_col]) + shift).isoformat()
            writer.writerow(row)
    return path
