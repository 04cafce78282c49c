"""A country's mapping from its national codes to the regional code lists.

Each country may keep ``mappings/<CC>.yaml``: for each regional list, national code ->
regional code. Regional codes are always accepted as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

MAPPING_DIR = Path(__file__).with_name("mappings")


@dataclass(frozen=True)
class CodeMapping:
    country: str
    national_to_regional: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_regional(self, codelist: str, value: str) -> str | None:
        """The regional code for ``value`` (a regional code or a national one)."""
        folded = value.strip().lower() if codelist not in ("sex",) else value.strip().upper()
        mapped = self.national_to_regional.get(codelist, {}).get(folded)
        return mapped or folded


def load_mapping(country: str, directory: Path = MAPPING_DIR) -> CodeMapping:
    path = directory / f"{country}.yaml"
    if not path.exists():
        return CodeMapping(country)
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    return CodeMapping(
        country,
        {lst: {str(k).strip().lower(): str(v) for k, v in codes.items()} for lst, codes in raw.items()},
    )
