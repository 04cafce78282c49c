"""Synthetic national exports: demo data and test data with a known truth.

Names come from Faker in each country's own script and spelling where Faker has the
locale (mk_MK in Cyrillic, hr_HR for Bosnian and Montenegrin Latin); Serbian names are
written in Cyrillic, as the Serbian agency's database holds them; Faker has no Albanian
names, so a short list stands in for AL and XK. Everything is seeded: the same call
writes the same files, so a second demo re-pushes identical records.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from faker import Faker

from producers.national_export import VICTIM_COLUMNS
from transforms.serbian_script import to_serbian_cyrillic

_ALBANIAN_FEMALE = [
    "Arta",
    "Besa",
    "Drita",
    "Elira",
    "Fatjona",
    "Gentiana",
    "Jonida",
    "Klea",
    "Mirela",
    "Rudina",
    "Teuta",
    "Valbona",
]
_ALBANIAN_MALE = ["Arben", "Besnik", "Dritan", "Ermal", "Fatos", "Gezim", "Ilir", "Kujtim", "Luan", "Petrit"]
_ALBANIAN_FAMILY = ["Hoxha", "Krasniqi", "Gashi", "Berisha", "Shala", "Morina", "Leka", "Dervishi", "Kola", "Basha"]


class _Person(Protocol):
    """What a synthetic row's record and identity are made from (a victim or perpetrator profile)."""

    record_id: str
    status: str
    updated_at: datetime | None
    sex: str | None
    age: int | None


class NameMaker:
    """Names and contact details as a country's own database would spell them."""

    def __init__(self, country: str, seed: int):
        self.country = country
        self.random = random.Random(seed)
        locale = {"MK": "mk_MK", "RS": "hr_HR", "BA": "hr_HR", "ME": "hr_HR"}.get(country, "hr_HR")
        self.faker = Faker(locale)
        self.faker.seed_instance(seed)

    def name(self, sex: str | None) -> tuple[str, str]:
        if self.country in ("AL", "XK"):
            given = self.random.choice(_ALBANIAN_MALE if sex == "M" else _ALBANIAN_FEMALE)
            return given, self.random.choice(_ALBANIAN_FAMILY)
        if sex == "M":
            given, family = self.faker.first_name_male(), self.faker.last_name_male()
        else:
            given, family = self.faker.first_name_female(), self.faker.last_name_female()
        if self.country == "RS":
            return to_serbian_cyrillic(given), to_serbian_cyrillic(family)
        return given, family

    def document(self) -> str:
        return f"{self.country}{self.random.randint(10**7, 10**8 - 1)}"

    def phone(self) -> str:
        return f"+{self.random.randint(355, 389)} {self.random.randint(60, 79)} {self.random.randint(100000, 999999)}"

    def address(self) -> str:
        return self.faker.street_address()

    def record(self, person: _Person, on: date, notes: str, updated_after: int) -> dict[str, str]:
        """A row's columns that every export has: the record, its version and status, and
        the identifying columns, made up: a name, a birth date that makes the person ``age``
        on the date ``on``, a document, a phone, an address, and a free-text note that quotes
        the name (``notes`` begins it), as real notes do. Without an ``updated_at`` the
        record was last changed ``updated_after`` days after ``on``."""
        given, family = self.name(person.sex)
        birth = birth_date_for(person.age, on, self.random).isoformat() if person.age is not None else ""
        updated = person.updated_at or datetime.combine(on, datetime.min.time(), UTC) + timedelta(days=updated_after)
        return {
            "record_id": person.record_id,
            "updated_at": updated.isoformat(),
            "status": person.status,
            "given_name": given,
            "family_name": family,
            "date_of_birth": birth,
            "document_number": self.document(),
            "phone": self.phone(),
            "address": self.address(),
            "notes": f"{notes} {given} {family}.",
        }


@dataclass
class VictimProfile:
    """What a synthetic victim row says, before names are put on it."""

    record_id: str
    identified_on: date
    sex: str | None
    age: int | None
    citizenship: str | None
    exploitation: Sequence[str] | None
    status: str = "identified"
    updated_at: datetime | None = None
    case_category: str = "trafficking"
    identified_by: str | None = "police"
    recorded_by: Sequence[str] | None = None  # every agency that met the person (v1.1)
    recruitment_method: str | None = None
    means_of_travel: Sequence[str] | None = None
    country_of_exploitation: str | None = None
    recruited_in: str | None = None
    transit_countries: Sequence[str] | None = None
    means_of_control: Sequence[str] | None = None
    means_of_communication: Sequence[str] | None = None
    case_ref: str | None = None  # default: a case of its own, {country}-C-{record_id}


def birth_date_for(age: int, identified_on: date, rng: random.Random) -> date:
    """A birth date that makes the person exactly ``age`` on ``identified_on``."""
    day = identified_on if (identified_on.month, identified_on.day) != (2, 29) else identified_on - timedelta(days=1)
    latest = day.replace(year=day.year - age)  # turned `age` on that day
    earliest = day.replace(year=day.year - age - 1) + timedelta(days=1)
    return earliest + timedelta(days=rng.randint(0, (latest - earliest).days))


def victim_rows(country: str, profiles: Iterable[VictimProfile], seed: int) -> list[dict[str, str]]:
    """National export rows (all columns) for the profiles, with fake identifying values."""
    names = NameMaker(country, seed)
    rows = []
    for p in profiles:
        rows.append(
            {
                **names.record(p, p.identified_on, "Interview notes for", updated_after=3),
                "case_category": p.case_category,
                "case_ref": p.case_ref or f"{country}-C-{p.record_id}",
                "sex": p.sex or "",
                "citizenship": p.citizenship or "",
                "identified_on": p.identified_on.isoformat(),
                "identified_by": p.identified_by or "",
                "recorded_by": ";".join(p.recorded_by or []),
                "exploitation_types": ";".join(p.exploitation or []),
                "country_of_exploitation": p.country_of_exploitation or "",
                "recruited_in": p.recruited_in or "",
                "transit_countries": ";".join(p.transit_countries or []),
                "recruitment_method": p.recruitment_method or "",
                "means_of_control": ";".join(p.means_of_control or []),
                "means_of_travel": ";".join(p.means_of_travel or []),
                "means_of_communication": ";".join(p.means_of_communication or []),
            }
        )
    return rows


def write_victims_csv(path: Path, rows: Sequence[dict[str, str]], columns: Sequence[str] = VICTIM_COLUMNS) -> Path:
    """An export file of ``rows`` with the header ``columns`` (also the perpetrators' writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


# --- Records that reproduce a published yearly table (../shared/acceptance/) -------------


def profiles_matching_table(table: Path, country: str = "RS", seed: int = 2010) -> list[VictimProfile]:
    """Victim profiles whose counts give the published table cell by cell.

    Each dimension's categories are dealt out independently over the year's victims;
    exploitation forms are dealt so that no victim gets a form twice, and victims left
    over have none recorded (the published rows need not add up to the total).
    """
    rng = random.Random(seed)
    cells: dict[int, dict[str, dict[str, int]]] = {}
    with table.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["country"] != country or row["victims"] == "":
                continue
            year = int(row["year"])
            cells.setdefault(year, {}).setdefault(row["dimension"], {})[row["category"]] = int(row["victims"])
    profiles = []
    for year, dims in sorted(cells.items()):
        total = dims["total"]["all"]

        def deal(
            dimension: str, year_dims: dict[str, dict[str, int]] = dims, n: int = total, y: int = year
        ) -> list[str]:
            labels = [c for c, k in year_dims.get(dimension, {}).items() for _ in range(k)]
            if len(labels) != n:
                raise ValueError(f"{y} {dimension}: categories add up to {len(labels)}, total is {n}")
            rng.shuffle(labels)
            return labels

        sexes, ages, citizenships = deal("sex"), deal("age_group"), deal("citizenship")
        forms: list[list[str]] = [[] for _ in range(total)]
        slots = 0
        for form, k in dims.get("exploitation", {}).items():
            # Deal round-robin from a moving start, so a form never lands twice on one victim.
            for i in range(k):
                forms[(slots + i) % total].append(form)
            slots += k
        rng.shuffle(forms)
        last_day = date(year, 11, 30) if year == 2010 else date(year, 12, 31)
        span = (last_day - date(year, 1, 1)).days
        for i in range(total):
            minor = ages[i] == "minor"
            profiles.append(
                VictimProfile(
                    record_id=f"{country}-{year}-{i + 1:04d}",
                    identified_on=date(year, 1, 1) + timedelta(days=rng.randint(0, span)),
                    sex=sexes[i],
                    age=rng.randint(9, 17) if minor else rng.randint(18, 45),
                    citizenship=country
                    if citizenships[i] == country
                    else rng.choice(["MD", "UA", "RO", "BG", "BA", "AL"]),
                    exploitation=forms[i] or None,
                )
            )
    return profiles


# --- The demo: a few years of monthly exports for the six countries ---------------------

# Victims a year, roughly as the national reports give them.
DEMO_VOLUME = {"AL": 40, "BA": 30, "ME": 12, "MK": 25, "RS": 80, "XK": 35}
DEMO_YEARS = (2021, 2022, 2023, 2024)
_FORMS = ["sexual", "labour", "begging", "forced_marriage", "criminal_activity", "domestic_servitude"]
_FORM_WEIGHTS = [50, 20, 10, 8, 6, 6]
_RECRUITMENT = [
    "job_offer",
    "intimate_partner",
    "family_member",
    "acquaintance",
    "online_advertisement",
    "marriage_offer",
]
_FOREIGN = ["MD", "UA", "RO", "BG", "RU", "TR", "AL", "BA", "RS", "MK", "XK", "ME"]
# The known shift of the demo: the chance that a Kosovar minor is exploited in forced begging.
XK_MINOR_BEGGING = {2021: 0.0, 2022: 0.05, 2023: 0.15, 2024: 0.85}


def demo_profiles(country: str, seed: int) -> list[VictimProfile]:
    """A country's victims over the demo years, with corrections and withdrawals.

    Kosovo's data carry a known shift for trend analysis: forced begging among minors
    jumps in the last year (``XK_MINOR_BEGGING``). Modus operandi drift everywhere as the
    field research describes: emotional manipulation and social networks grow, physical
    violence and taking documents fall.
    """
    rng = random.Random(f"{seed}-{country}")
    profiles: list[VictimProfile] = []
    for year in DEMO_YEARS:
        for i in range(max(1, int(rng.gauss(DEMO_VOLUME[country], DEMO_VOLUME[country] * 0.15)))):
            identified_on = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            minor = rng.random() < 0.35
            age = rng.randint(6, 17) if minor else rng.randint(18, 50)
            forms = sorted(set(rng.choices(_FORMS, _FORM_WEIGHTS, k=rng.choice([1, 1, 1, 2]))))
            if country == "XK" and minor and rng.random() < XK_MINOR_BEGGING[year]:
                forms = ["begging"]
            domestic = rng.random() < 0.5
            citizenship = country if domestic else rng.choice([c for c in _FOREIGN if c != country])
            exploited_in = country if domestic else rng.choice(["IT", "DE", "GR", "TR", country])
            mo = random.Random(f"{seed}-{country}-{year}-{i}-mo")  # apart, so the draws above stay as they were
            late = (year - DEMO_YEARS[0]) / (len(DEMO_YEARS) - 1)  # 0 in the first year, 1 in the last
            profiles.append(
                VictimProfile(
                    record_id=f"{country}-{year}-{i + 1:04d}",
                    identified_on=identified_on,
                    sex="M" if rng.random() < (0.35 if minor else 0.15) else "F",
                    age=age if rng.random() > 0.05 else None,
                    citizenship=citizenship,
                    exploitation=forms if rng.random() > 0.08 else None,
                    identified_by=rng.choice(_AGENCIES),
                    recruitment_method=rng.choice(_RECRUITMENT) if rng.random() > 0.2 else None,
                    means_of_travel=["none"] if domestic else [rng.choice(["car", "bus", "air"])],
                    country_of_exploitation=exploited_in,
                    recruited_in=citizenship if mo.random() > 0.1 else None,
                    transit_countries=None
                    if domestic or mo.random() < 0.5
                    else [mo.choice([c for c in ("RS", "MK", "ME", "BA") if c not in (citizenship, exploited_in)])],
                    means_of_control=_drift(
                        mo,
                        late,
                        ["physical_violence", "documents_withheld", "threats"],
                        ["emotional_dependence", "threats", "debt_bondage"],
                    ),
                    means_of_communication=_drift(
                        mo, late, ["in_person", "phone"], ["social_network", "messaging_app"]
                    ),
                )
            )
    for n, p in enumerate(profiles):  # drawn apart too, for the same reason
        p.recorded_by = _agencies_met(random.Random(f"{seed}-{country}-{n}-lists"), p.identified_by or "police")
    return profiles


_AGENCIES = ["police", "border_police", "social_services", "ngo", "labour_inspection"]


def _agencies_met(rng: random.Random, identified_by: str) -> list[str]:
    """The agencies that met a victim besides the identifying one: a third of victims are
    far more visible than the rest, and the police refer some of theirs to social services
    (the dependence and heterogeneity that multiple systems estimation must allow for)."""
    chance = 0.35 if rng.random() < 0.3 else 0.1
    met = {identified_by} | {a for a in _AGENCIES if rng.random() < chance}
    if "police" in met and rng.random() < 0.3:
        met.add("social_services")
    return sorted(met)


def _drift(rng: random.Random, late: float, early_codes: list[str], late_codes: list[str]) -> list[str] | None:
    """One or two codes, drawn from the late list more often as ``late`` goes 0 -> 1."""
    if rng.random() < 0.1:
        return None
    codes = {
        rng.choice(late_codes if rng.random() < 0.2 + 0.6 * late else early_codes) for _ in range(rng.choice([1, 2]))
    }
    return sorted(codes)


def hash_seed(*parts: str) -> int:
    """A stable seed from strings (Python's hash() is salted per process)."""
    import zlib

    return zlib.crc32("|".join(parts).encode())
