"""Public microdata in the CTDC/HTCDS column style, k-anonymous with k = 11.

Every exported column is a quasi-identifier (CTDC treats every published field as one),
so each row shares all its values with at least k - 1 other rows. Generalise first,
suppress only what remains: every combination of the declared hierarchy levels
(``public_export`` in disclosure.yaml, a few hundred) is tried, and the one that loses
least information per record wins. A suppressed record loses everything; a kept record
loses the mean share of the hierarchy its fields climbed.
"""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from disclosure import policy as disclosure
from disclosure.k_anonymity import Generalisation, class_sizes, least_loss
from disclosure.policy import WITHHELD, DisclosurePolicy, load_policy
from transforms.codelists import NOT_RECORDED

COLUMNS = (
    "yearOfRegistration",
    "reportingCountry",
    "gender",
    "ageBroad",
    "majorityStatus",
    "citizenship",
    "CountryOfExploitation",
    "isSexualExploit",
    "isForcedLabour",
    "isOtherExploit",
    "typeOfExploitConcatenated",
)
GENDER = {"F": "Female", "M": "Male", "X": "Other"}


@dataclass(frozen=True)
class VictimRecord:
    """A warehouse victim row, reduced to what the export can show."""

    country: str
    year: int
    month: int | None
    sex: str
    age_band: str
    citizenship: str
    country_of_exploitation: str
    exploitation: tuple[str, ...]


@dataclass
class ExportSummary:
    path: Path | None
    k: int
    chosen: Generalisation
    candidates_tried: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "k_required": self.k,
            "records": self.chosen.records,
            "records_exported": self.chosen.kept,
            "records_suppressed": self.chosen.suppressed,
            "smallest_class": self.chosen.smallest_class,
            "levels": self.chosen.levels,
            "information_loss": round(self.chosen.loss, 4),
            "combinations_tried": self.candidates_tried,
        }


def load_records(con: duckdb.DuckDBPyConnection) -> list[VictimRecord]:
    rows = con.execute(
        "SELECT country, year, month, sex, age_band, citizenship, country_of_exploitation,"
        " coalesce(exploitation_types, []) FROM mart_victims ORDER BY person_key, country"
    ).fetchall()
    return [
        VictimRecord(c, y, m, s or NOT_RECORDED, a or NOT_RECORDED, z or NOT_RECORDED, e or NOT_RECORDED, tuple(x))
        for c, y, m, s, a, z, e, x in rows
    ]


def generalised_value(record: VictimRecord, qi: str, level: str, policy: DisclosurePolicy) -> Any:
    """One quasi-identifier of one record at one level of its hierarchy."""
    if qi == "period":
        return disclosure.period(record.year, record.month, level)
    if qi == "reporting_country":
        return disclosure.withheld_or(record.country, level)
    if qi == "sex":
        return disclosure.withheld_or(record.sex, level)
    if qi == "age":
        return disclosure.age(record.age_band, level)
    if qi == "citizenship":
        return disclosure.country(record.citizenship, level, policy)
    if qi == "country_of_exploitation":
        return disclosure.country(record.country_of_exploitation, level, policy)
    if qi == "exploitation":
        return disclosure.exploitation(record.exploitation, level, policy)
    raise ValueError(f"unknown quasi-identifier {qi}")


def _codes(records: list[VictimRecord], policy: DisclosurePolicy) -> dict[tuple[str, str], np.ndarray]:
    """Integer codes of every quasi-identifier at every allowed level."""
    codes = {}
    for qi, levels in policy.public_export.items():
        for level in levels:
            values = [repr(generalised_value(r, qi, level, policy)) for r in records]
            codes[(qi, level)] = np.unique(np.array(values, dtype=object), return_inverse=True)[1].astype(np.int64)
    return codes


def choose_generalisation(records: list[VictimRecord], k: int, policy: DisclosurePolicy) -> tuple[Generalisation, int]:
    """The combination of levels that loses least information per record at k."""
    codes = _codes(records, policy) if records else {}
    return least_loss(codes, policy.public_export, policy.public_export_weights, len(records), k)


def export_row(record: VictimRecord, levels: dict[str, str], policy: DisclosurePolicy) -> dict[str, str]:
    """A record in CTDC/HTCDS columns: withheld fields are empty, unknown ones say so."""

    def shown(value: str) -> str:
        return "" if value == WITHHELD else ("unknown" if value == NOT_RECORDED else value)

    age = generalised_value(record, "age", levels["age"], policy)
    group = disclosure.age(record.age_band, "age_group") if age != WITHHELD else WITHHELD
    forms = generalised_value(record, "exploitation", levels["exploitation"], policy)
    withheld_forms = levels["exploitation"] == WITHHELD
    broad = set(disclosure.exploitation(forms, "broad", policy)) if not withheld_forms else set()

    def flag(group_name: str) -> str:
        return "" if withheld_forms else str(int(group_name in broad))

    return {
        "yearOfRegistration": shown(generalised_value(record, "period", levels["period"], policy)),
        "reportingCountry": shown(generalised_value(record, "reporting_country", levels["reporting_country"], policy)),
        "gender": shown(GENDER.get(sex := generalised_value(record, "sex", levels["sex"], policy), sex)),
        "ageBroad": shown(age) if levels["age"] == "age_band" else "",
        "majorityStatus": {"minor": "Minor", "adult": "Adult"}.get(group, shown(group)),
        "citizenship": shown(generalised_value(record, "citizenship", levels["citizenship"], policy)),
        "CountryOfExploitation": shown(
            generalised_value(record, "country_of_exploitation", levels["country_of_exploitation"], policy)
        ),
        "isSexualExploit": flag("sexual"),
        "isForcedLabour": flag("labour"),
        "isOtherExploit": flag("other"),
        "typeOfExploitConcatenated": ";".join(forms),
    }


def public_microdata(
    con: duckdb.DuckDBPyConnection, k: int | None = None, policy: DisclosurePolicy | None = None
) -> tuple[list[dict[str, str]], ExportSummary]:
    """The rows of the public export and how they were protected."""
    policy = policy or load_policy()
    k = k or policy.public_k
    # Closed years only: the current year's records change every month, and two exports
    # a month apart could be differenced to single out a victim identified in between.
    current = datetime.now(UTC).year
    records = [r for r in load_records(con) if r.year is not None and r.year < current]
    chosen, tried = choose_generalisation(records, k, policy)
    if not records:
        return [], ExportSummary(None, k, chosen, tried, ["the warehouse holds no victim yet"])
    codes = _codes(records, policy)
    sizes = class_sizes([codes[(qi, level)] for qi, level in chosen.levels.items()])
    rows = [export_row(r, chosen.levels, policy) for r, size in zip(records, sizes, strict=True) if size >= k]
    return rows, ExportSummary(None, k, chosen, tried)


def write_htcds_export(con: duckdb.DuckDBPyConnection, path: Path, k: int | None = None) -> ExportSummary:
    rows, summary = public_microdata(con, k)
    # The records come in warehouse order (by person key, which starts with the country):
    # written so, the row number alone would give a withheld country away. Shuffled with
    # the operating system's cryptographic generator, the order says nothing.
    secrets.SystemRandom().shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    summary.path = path
    return summary
