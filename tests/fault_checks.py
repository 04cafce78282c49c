"""What the fault tests (tests/stack/test_faults.py, tests/cluster/) hold a faulted
warehouse to: the same rows, marts and quarantine as an uninterrupted load's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from config.settings import Settings, country_topic
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from warehouse.loader import connect, stored_offsets

# Event columns that say what was loaded, without when or by which load.
CONTENT = (
    "event_id, country, record_ref, case_ref, updated_at, status, case_category, sex, citizenship, age_band,"
    " age_group, identified_year, identified_month, identified_by, exploitation_types, country_of_exploitation,"
    " recruited_in, transit_countries, recruitment_method, means_of_control, means_of_travel,"
    " means_of_communication, codelist_version, producer_batch_id, topic, kafka_partition, kafka_offset"
)
# record_key, not person_key: linkage may join these records to other tests' persons.
MART = "record_key, country, record_ref, status, case_category, sex, citizenship, age_band, age_group, year, month"


def victims_export(tmp_path: Path, country: str, prefix: str, n: int, year: int) -> Path:
    profiles = [
        VictimProfile(f"{prefix}-{i:05d}", date(year, 1 + i % 12, 1 + i % 28), "MF"[i % 2], 14 + i % 40, country,
                      [("labour", "sexual", "begging")[i % 3]])
        for i in range(n)
    ]  # fmt: skip
    return write_victims_csv(tmp_path / f"{prefix}.csv", victim_rows(country, profiles, seed=n))


def contents(
    path: Path, country: str, batch: str, since: dict[int, int]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[object]]:
    """What the push ``batch`` left in a warehouse: its rows, their marts, and what was
    quarantined from the offsets ``since`` on (where the push began)."""
    with connect(path, read_only=True) as con:
        raw = con.execute(
            f"SELECT {CONTENT} FROM raw_victim_events WHERE country = ? AND producer_batch_id = ? ORDER BY event_id",
            [country, batch],
        ).fetchall()
        mart = con.execute(
            f"SELECT {MART} FROM mart_victims WHERE country = ? AND event_id IN"
            " (SELECT event_id FROM raw_victim_events WHERE producer_batch_id = ?) ORDER BY record_key",
            [country, batch],
        ).fetchall()
        quarantine = [
            q
            for q in con.execute(
                "SELECT kafka_partition, kafka_offset, event_id, reasons FROM quarantine WHERE country = ?"
                " ORDER BY kafka_partition, kafka_offset",
                [country],
            ).fetchall()
            if q[1] >= since.get(q[0], 0)
        ]
    return raw, mart, quarantine


def offsets(settings: Settings, country: str) -> dict[int, int]:
    """The offsets the warehouse has loaded a country's topic to; none before its first load."""
    if not settings.warehouse.exists():
        return {}
    with connect(settings.warehouse, read_only=True) as con:
        return stored_offsets(con, country_topic(country))


def task_process(ti_id: str) -> int | None:
    """The pid of the Airflow task runner of a task instance (it titles itself so)."""
    title = f"airflow worker -- {ti_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip() == title:
                    return int(entry.name)
            except OSError:
                continue
    return None
