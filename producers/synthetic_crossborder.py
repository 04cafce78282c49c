"""Cross-border persons in the demo: victims identified in one country and later in a
neighbour, each country writing the name its own way.

A Serbian record in Cyrillic with the full birth date comes back from North Macedonia in
Macedonian Cyrillic, from Bosnia in Latin without diacritics, sometimes family name
first, sometimes with only the birth year: what linkage has to see through.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from anyascii import anyascii

from producers.linkage import to_gaj_latin
from producers.synthetic import DEMO_YEARS, VictimProfile, demo_profiles, hash_seed, victim_rows
from transforms.serbian_script import to_serbian_cyrillic

# Where a person identified in the first country is often identified again.
DEMO_ROUTES = {"RS": ("MK", "BA", "ME"), "MK": ("RS", "AL", "XK"), "XK": ("AL", "MK"), "AL": ("XK", "MK")}
SHARE = 0.06  # of the first country's victims
_MACEDONIAN = str.maketrans("ђћЂЋ", "ѓќЃЌ")  # Serbian Cyrillic letters Macedonian writes otherwise


def spell_for(country: str, given: str, family: str, rng: random.Random) -> tuple[str, str]:
    """A name as the receiving country's database would hold it."""
    latin = [to_gaj_latin(n).title() for n in (given, family)]
    if country == "RS":
        spelled = [to_serbian_cyrillic(n) for n in latin]
    elif country == "MK":
        spelled = [
            to_serbian_cyrillic(n).replace("ђ", "ѓ").replace("ћ", "ќ").replace("Ђ", "Ѓ").replace("Ћ", "Ќ")
            for n in latin
        ]
    else:
        spelled = [anyascii(n) if rng.random() < 0.5 else n for n in latin]
    if rng.random() < 0.25:
        spelled.reverse()  # family name first
    return spelled[0], spelled[1]


def cross_border_records(seed: int) -> dict[str, list[tuple[VictimProfile, dict[str, str]]]]:
    """Per receiving country: the second records of cross-border persons, with the
    identifying columns (names, birth date) that replace the generated ones."""
    extra: dict[str, list[tuple[VictimProfile, dict[str, str]]]] = {}
    last_day = date(DEMO_YEARS[-1], 12, 31)
    for first, routes in sorted(DEMO_ROUTES.items()):
        rng = random.Random(f"{seed}-{first}-cross-border")  # noqa: S311 - synthetic data, not a secret
        for p in demo_profiles(first, seed):
            if p.age is None or rng.random() >= SHARE:
                continue
            second = rng.choice(routes)
            identified_on = p.identified_on + timedelta(days=rng.randint(20, 200))
            if identified_on > last_day:
                continue
            (row,) = victim_rows(first, [p], seed=hash_seed(first, p.record_id))
            given, family = spell_for(second, row["given_name"], row["family_name"], rng)
            birth = row["date_of_birth"] if rng.random() < 0.5 else row["date_of_birth"][:4]
            profile = replace(
                p,
                record_id=f"{second}-{identified_on.year}-X{p.record_id.replace('-', '')}",
                identified_on=identified_on,
                updated_at=None,
                status="identified",
                identified_by=rng.choice(["police", "border_police", "ngo"]),
            )
            overrides = {"given_name": given, "family_name": family, "date_of_birth": birth}
            extra.setdefault(second, []).append((profile, overrides))
    return extra
