"""A warehouse of generated victims for disclosure tests: skewed like the region's data
(mostly domestic, mostly sexual and labour exploitation, a few rare cases)."""

from __future__ import annotations

import random

import duckdb

from warehouse.loader import SQL_DIR

BANDS = ["0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38", "39-47", "48+", "not_recorded"]
COUNTRIES = ["AL", "BA", "ME", "MK", "RS", "XK"]
FORMS = ["sexual", "labour", "begging", "forced_marriage", "criminal_activity", "organ_removal"]


def victims_warehouse(n: int, seed: int = 7) -> duckdb.DuckDBPyConnection:
    rng = random.Random(seed)
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE mart_victims (person_key VARCHAR, record_key VARCHAR, country VARCHAR, record_ref VARCHAR,"
        " year INTEGER, month INTEGER, sex VARCHAR, age_band VARCHAR, age_group VARCHAR, citizenship VARCHAR,"
        " country_of_exploitation VARCHAR, exploitation_types VARCHAR[])"
    )
    rows = []
    for i in range(n):
        country = rng.choice(COUNTRIES)
        band = rng.choices(BANDS, weights=[2, 10, 8, 7, 6, 5, 8, 3, 1, 2])[0]
        group = "unknown" if band == "not_recorded" else ("minor" if band in ("0-8", "9-17") else "adult")
        citizenship = country if rng.random() < 0.7 else rng.choice(["MD", "UA", "NG", "CN", "AL", "RS", "DE"])
        forms = rng.sample(FORMS, 2) if rng.random() < 0.1 else rng.choices(FORMS, weights=[50, 30, 8, 5, 4, 1])
        rows.append(
            (
                f"{country}:{i:040x}", f"{country}:{i:040x}", country, f"{i:040x}",
                rng.randint(2015, 2024), rng.randint(1, 12),
                rng.choices(["F", "M", "X"], weights=[70, 29, 1])[0], band, group, citizenship,
                country if rng.random() < 0.6 else rng.choice(["DE", "IT", "AT", "AL"]), forms,
            )
        )  # fmt: skip
    con.executemany("INSERT INTO mart_victims VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    for codes in ("means_of_control", "means_of_travel", "means_of_communication"):
        con.execute(f"ALTER TABLE mart_victims ADD COLUMN {codes} VARCHAR[]")
    # The code bridges exactly as the warehouse builds them.
    con.execute((SQL_DIR / "marts" / "031_victim_codes.sql").read_text("utf-8"))
    con.execute("INSERT INTO mart_victim_codes FROM mart_victim_codes_of('mart_victims')")
    return con
