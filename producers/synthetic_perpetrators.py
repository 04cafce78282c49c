"""Synthetic perpetrators.csv exports, linked to synthetic victims by case reference.

Each demo victim's case has none, one or more perpetrators. The drift the field research
describes is built in: individual recruiters and intimate partners grow, organised groups
and strangers shrink, over the demo years.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from producers.national_export import PERPETRATOR_COLUMNS
from producers.synthetic import DEMO_YEARS, NameMaker, VictimProfile, write_victims_csv

_ROLES = ["recruiter", "transporter", "exploiter", "organiser"]


@dataclass
class PerpetratorProfile:
    """What a synthetic perpetrator row says, before names are put on it."""

    record_id: str
    case_ref: str | None
    registered_on: date
    sex: str | None
    age: int | None
    citizenship: str | None
    roles: Sequence[str] | None
    structure: str | None
    relation_to_victim: str | None
    status: str = "suspected"
    updated_at: datetime | None = None


def perpetrator_rows(country: str, profiles: Iterable[PerpetratorProfile], seed: int) -> list[dict[str, str]]:
    """National export rows (all columns) for the profiles, with fake identifying values."""
    names = NameMaker(country, seed)
    rows = []
    for p in profiles:
        rows.append(
            {
                **names.record(p, p.registered_on, "Statement of", updated_after=2),
                "case_ref": p.case_ref or "",
                "sex": p.sex or "",
                "citizenship": p.citizenship or "",
                "role": ";".join(p.roles or []),
                "structure": p.structure or "",
                "relation_to_victim": p.relation_to_victim or "",
                "registered_on": p.registered_on.isoformat(),
            }
        )
    return rows


def write_perpetrators_csv(path: Path, rows: Sequence[dict[str, str]]) -> Path:
    return write_victims_csv(path, rows, PERPETRATOR_COLUMNS)


def demo_perpetrators(country: str, victims: Sequence[VictimProfile], seed: int) -> list[PerpetratorProfile]:
    """Perpetrators of the demo victims' cases (case_ref as victim_rows writes it)."""
    rng = random.Random(f"{seed}-{country}-perpetrators")
    profiles = []
    for victim in victims:
        if victim.status == "withdrawn" or rng.random() < 0.3:
            continue  # no perpetrator known for this case
        late = (victim.identified_on.year - DEMO_YEARS[0]) / (len(DEMO_YEARS) - 1)
        individual = rng.random() < 0.3 + 0.5 * late
        structure = "individual" if individual else rng.choice(["organised_group", "organised_group", "family"])
        for k in range(1 if individual else rng.randint(2, 3)):
            relation = (
                rng.choice(["intimate_partner", "acquaintance", "family_member"])
                if rng.random() < 0.2 + 0.5 * late
                else rng.choice(["stranger", "employer", "acquaintance"])
            )
            profiles.append(
                PerpetratorProfile(
                    record_id=f"P-{victim.record_id}-{k + 1}",
                    case_ref=victim.case_ref or f"{country}-C-{victim.record_id}",
                    registered_on=min(victim.identified_on + timedelta(days=rng.randint(0, 20)), date(2024, 12, 31)),
                    sex="M" if rng.random() < 0.8 else "F",
                    age=rng.randint(19, 60) if rng.random() > 0.1 else None,
                    citizenship=country if rng.random() < 0.7 else rng.choice(["AL", "RS", "BG", "TR", "IT"]),
                    roles=sorted(set(rng.sample(_ROLES, rng.choice([1, 1, 2])))) if rng.random() > 0.05 else None,
                    structure=structure if rng.random() > 0.05 else None,
                    relation_to_victim=relation if rng.random() > 0.1 else None,
                    status=rng.choice(["suspected", "suspected", "charged", "convicted"]),
                )
            )
    return profiles
