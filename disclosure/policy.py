"""The disclosure-control policy and the generalisation hierarchies it declares.

The policy is data (``transforms/codelists/disclosure.yaml``); this module loads it and applies
one level of a hierarchy to a column of values. Level 0 is what the warehouse stores;
each higher level is coarser; the last level withholds the field ("*").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import yaml

from transforms.codelists import CODELIST_DIR, NOT_RECORDED

WITHHELD = "*"
MINOR_BANDS = frozenset({"0-8", "9-17"})


@dataclass(frozen=True)
class DisclosurePolicy:
    min_cell: int
    public_k: int
    epsilon_cap: float
    epsilon_per_year: float
    perturbation_sd: float
    perturbation_spread: int
    token_days: int
    warehouse_quasi_identifiers: tuple[str, ...]
    sensitive_attribute: str
    hierarchies: dict[str, tuple[str, ...]]
    rare_exploitation: frozenset[str]
    broad_exploitation: dict[str, str]
    region_of: dict[str, str]
    public_export: dict[str, tuple[str, ...]]
    public_export_weights: dict[str, float]

    def region(self, country: str) -> str:
        if country in (NOT_RECORDED, "", WITHHELD):
            return country
        return self.region_of.get(country, "rest_of_world")


@cache
def load_policy() -> DisclosurePolicy:
    raw = yaml.safe_load((CODELIST_DIR / "disclosure.yaml").read_text("utf-8"))
    return DisclosurePolicy(
        min_cell=int(raw["min_cell"]),
        public_k=int(raw["public_k"]),
        epsilon_cap=float(raw["epsilon_cap"]),
        epsilon_per_year=float(raw["epsilon_per_year"]),
        perturbation_sd=float(raw["perturbation"]["sd"]),
        perturbation_spread=int(raw["perturbation"]["spread"]),
        token_days=int(raw["token_days"]),
        warehouse_quasi_identifiers=tuple(raw["warehouse_quasi_identifiers"]),
        sensitive_attribute=str(raw["sensitive_attribute"]),
        hierarchies={name: tuple(levels) for name, levels in raw["hierarchies"].items()},
        rare_exploitation=frozenset(raw["rare_exploitation"]),
        broad_exploitation=dict(raw["broad_exploitation"]),
        region_of={code: region for region, codes in raw["regions"].items() for code in codes},
        public_export={name: tuple(levels) for name, levels in raw["public_export"].items()},
        public_export_weights={name: float(w) for name, w in raw["public_export_weights"].items()},
    )


def period(year: int | None, month: int | None, level: str) -> str:
    """month (2024-03) -> quarter (2024-Q1) -> year (2024) -> five years (2020-2024) -> *."""
    if level == WITHHELD or year is None:
        return WITHHELD if level == WITHHELD else NOT_RECORDED
    if level == "five_years":
        start = year - year % 5
        return f"{start}-{start + 4}"
    if level == "year" or month is None:
        return str(year)
    if level == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    return f"{year}-{month:02d}"


def age(age_band: str, level: str) -> str:
    """age band -> minor/adult at identification -> *."""
    if level == WITHHELD:
        return WITHHELD
    if level == "age_group":
        if age_band == NOT_RECORDED:
            return "unknown"
        return "minor" if age_band in MINOR_BANDS else "adult"
    return age_band


def country(code: str, level: str, policy: DisclosurePolicy | None = None) -> str:
    """country -> region of the world -> *."""
    if level == WITHHELD:
        return WITHHELD
    if level == "region":
        return (policy or load_policy()).region(code)
    return code


def withheld_or(value: str, level: str) -> str:
    """For a field whose only coarser level is to withhold it (sex, reporting country)."""
    return WITHHELD if level == WITHHELD else value


def exploitation(forms: Iterable[str], level: str, policy: DisclosurePolicy | None = None) -> tuple[str, ...]:
    """Exploitation forms of a victim: rare forms shown as "other" -> the broad CTDC
    groups (sexual, labour, other) -> withheld. Sorted and without repeats."""
    if level == WITHHELD:
        return ()
    policy = policy or load_policy()
    forms = list(forms) or [NOT_RECORDED]
    if level == "broad":
        return tuple(sorted({policy.broad_exploitation.get(f, f) for f in forms}))
    return tuple(sorted({"other" if f in policy.rare_exploitation else f for f in forms}))
