"""The demo's national exports: a month's victims.csv and perpetrators.csv per country,
made of the synthetic victims (synthetic.py), their cases' perpetrators
(synthetic_perpetrators.py) and persons identified in two countries
(synthetic_crossborder.py), with the corrections, withdrawals and typos real exports have.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from producers.national_export import VICTIM_COLUMNS
from producers.synthetic import (
    DEMO_VOLUME,
    DEMO_YEARS,
    VictimProfile,
    demo_profiles,
    hash_seed,
    victim_rows,
    write_victims_csv,
)
from producers.synthetic_crossborder import cross_border_records
from producers.synthetic_perpetrators import demo_perpetrators, perpetrator_rows, write_perpetrators_csv


def write_demo_exports(out_dir: Path, seed: int = 7) -> dict[str, list[Path]]:
    """Monthly victims.csv and perpetrators.csv exports per country; returns the files in
    push order.

    Each month's victims file holds the records identified that month, corrections of
    records from two months before (a newer updated_at) and the odd withdrawal; its
    perpetrators file, the perpetrators of those cases registered that month. Some
    persons are identified in two countries (producers/synthetic_crossborder.py).
    """
    files: dict[str, list[Path]] = {}
    cross_border = cross_border_records(seed)  # persons identified in two countries
    for country in sorted(DEMO_VOLUME):
        rng = random.Random(f"{seed}-{country}-months")
        profiles = demo_profiles(country, seed) + [p for p, _ in cross_border.get(country, [])]
        identities = {p.record_id: names for p, names in cross_border.get(country, [])}
        by_month: dict[tuple[int, int], list[VictimProfile]] = {}
        for p in profiles:
            by_month.setdefault((p.identified_on.year, p.identified_on.month), []).append(p)
            late = p.identified_on + timedelta(days=62)
            roll = rng.random()
            if roll < 0.10 and late.year in DEMO_YEARS:  # a correction: exploitation known later
                fixed = VictimProfile(
                    **{
                        **p.__dict__,
                        "exploitation": sorted(set(p.exploitation or []) | {"labour"}),
                        "updated_at": datetime.combine(late, datetime.min.time(), UTC),
                    }
                )
                by_month.setdefault((late.year, late.month), []).append(fixed)
            elif roll < 0.12 and late.year in DEMO_YEARS:  # withdrawn: not a victim after all
                gone = VictimProfile(
                    **{
                        **p.__dict__,
                        "status": "withdrawn",
                        "updated_at": datetime.combine(late, datetime.min.time(), UTC),
                    }
                )
                by_month.setdefault((late.year, late.month), []).append(gone)
        perpetrators_by_month: dict[tuple[int, int], list[dict[str, str]]] = {}
        for perpetrator in demo_perpetrators(country, profiles, seed):
            month_key = (perpetrator.registered_on.year, perpetrator.registered_on.month)
            (row,) = perpetrator_rows(country, [perpetrator], seed=hash_seed(country, perpetrator.record_id))
            perpetrators_by_month.setdefault(month_key, []).append(row)
        files[country] = []
        for year, month in sorted(by_month.keys() | perpetrators_by_month.keys()):
            perpetrators_file = out_dir / country / f"perpetrators-{year}-{month:02d}.csv"
            if (year, month) in by_month:
                # Names are drawn per record, so a correction keeps its person's name.
                rows = []
                for p in by_month[(year, month)]:
                    (row,) = victim_rows(country, [p], seed=hash_seed(country, p.record_id))
                    row.update(identities.get(p.record_id, {}))
                    rows.append(row)
                if country == "ME" and (year, month) == max(by_month):
                    # One row typed with a national word where a code belongs: the demo shows
                    # how a refusal reads (row, column, reason, and never the value).
                    rows.append({**rows[0], "record_id": "ME-2024-TYPO", "sex": "zensko"})
                # Montenegro still sends export v1.0, without recorded_by: its estimate is
                # refused (a single list per person), as a country's would be.
                columns = [c for c in VICTIM_COLUMNS if c != "recorded_by" or country != "ME"]
                path = out_dir / country / f"victims-{year}-{month:02d}.csv"
                files[country].append(write_victims_csv(path, rows, columns))
            if (year, month) in perpetrators_by_month:
                files[country].append(write_perpetrators_csv(perpetrators_file, perpetrators_by_month[(year, month)]))
    return files
