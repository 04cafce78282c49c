"""The regional code lists: the one place that knows which codes exist.

The lists are data (``codelists/regional-v<N>.yaml``); this module only loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

CODELIST_DIR = Path(__file__).with_name("codelists")
CURRENT_VERSION = 1

# Four different "nothing"s must stay apart through the pipeline (see domain.md):
NOT_RECORDED = "not_recorded"  # the country collects it, but not for this person
NOT_COLLECTED = "not_collected"  # the country had no such category then
NOT_DETERMINED = "undetermined"  # recorded as undetermined by the authority


@dataclass(frozen=True)
class AgeBand:
    label: str
    lowest: int
    highest: int | None

    def contains(self, age: int) -> bool:
        return age >= self.lowest and (self.highest is None or age <= self.highest)


@dataclass(frozen=True)
class CodeLists:
    version: int
    lists: dict[str, tuple[str, ...]]
    age_bands: tuple[AgeBand, ...]
    reporting_countries: tuple[str, ...]

    def codes(self, name: str) -> tuple[str, ...]:
        return self.lists[name]

    def is_valid(self, name: str, code: str) -> bool:
        return code in self.lists[name]


@cache
def collection_calendar() -> dict[str, dict[str, dict[str, int]]]:
    """country -> code list -> code -> first year the country collected it."""
    raw = yaml.safe_load((CODELIST_DIR / "collection.yaml").read_text("utf-8")) or {}
    return {
        country: {lst: {code: int(year) for code, year in codes.items()} for lst, codes in lists.items()}
        for country, lists in raw.items()
    }


def collected_since(country: str, codelist: str, code: str) -> int | None:
    """The first year ``country`` collected ``code``; None if it always did."""
    return collection_calendar().get(country, {}).get(codelist, {}).get(code)


@cache
def load_codelists(version: int = CURRENT_VERSION) -> CodeLists:
    """Load one version of the regional code lists."""
    raw = yaml.safe_load((CODELIST_DIR / f"regional-v{version}.yaml").read_text("utf-8"))
    return CodeLists(
        version=int(raw["version"]),
        lists={name: tuple(codes) for name, codes in raw["lists"].items()},
        age_bands=tuple(AgeBand(label, low, high) for label, low, high in raw["age_bands"]),
        reporting_countries=tuple(raw["reporting_countries"]),
    )
