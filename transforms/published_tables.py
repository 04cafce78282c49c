"""Published aggregate tables in the long format of ../shared/acceptance/ (country, year,
dimension, category, victims): reading them, and finding where they do not add up.

An empty ``victims`` means the category was not collected that year: it is kept apart
from zero. Exploitation forms may legitimately add up to more than the total (several
forms per victim) or less (forms not recorded), so they are reported as a note, not as
an error.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

# Dimensions whose categories partition the victims: they must add up to the total.
PARTITIONS = ("age_group", "citizenship", "sex")
# Dimensions where one victim can be in several categories, or in none.
OVERLAPPING = ("exploitation",)


@dataclass(frozen=True)
class PublishedCell:
    country: str
    year: int
    dimension: str
    category: str
    victims: int | None  # None: not collected that year


@dataclass(frozen=True)
class Inconsistency:
    country: str
    year: int
    dimension: str
    parts: int
    total: int
    severity: str  # "error": a partition that does not add up; "note": overlapping forms

    def __str__(self) -> str:
        if self.severity == "error":
            return (
                f"{self.country} {self.year} {self.dimension}: categories add up to {self.parts},"
                f" the published total is {self.total} (difference {self.parts - self.total:+d})"
            )
        return (
            f"{self.country} {self.year} {self.dimension}: forms add up to {self.parts} of {self.total} victims"
            " (possible: several forms per victim, or none recorded)"
        )


class TableRejected(ValueError):
    pass


def read_published_table(path: Path) -> list[PublishedCell]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            needed = {"country", "year", "dimension", "category", "victims"}
            if not reader.fieldnames or not needed <= set(reader.fieldnames):
                raise TableRejected(f"the table needs the columns {', '.join(sorted(needed))}")
            cells = []
            for number, row in enumerate(reader, start=2):
                try:
                    victims = int(row["victims"]) if row["victims"].strip() else None
                    cells.append(
                        PublishedCell(row["country"].strip(), int(row["year"]), row["dimension"].strip(),
                                      row["category"].strip(), victims)
                    )  # fmt: skip
                except ValueError:
                    raise TableRejected(f"row {number}: year and victims must be whole numbers") from None
    except UnicodeDecodeError:
        raise TableRejected("the table is not UTF-8 text") from None
    return cells


def find_inconsistencies(cells: list[PublishedCell]) -> list[Inconsistency]:
    """Rows whose parts do not add up to the published total of their year."""
    totals = {(c.country, c.year): c.victims for c in cells if c.dimension == "total" and c.victims is not None}
    parts: dict[tuple[str, int, str], int] = defaultdict(int)
    for c in cells:
        if c.dimension in (*PARTITIONS, *OVERLAPPING) and c.victims is not None:
            parts[(c.country, c.year, c.dimension)] += c.victims
    found = []
    for (country, year, dimension), added in sorted(parts.items()):
        total = totals.get((country, year))
        if total is None or added == total:
            continue
        severity = "error" if dimension in PARTITIONS else "note"
        found.append(Inconsistency(country, year, dimension, added, total, severity))
    return found
