"""Linkage quality and speed on generated records with a known truth.

    python -m benchmarks.linkage_quality [--persons 2000] [--population 200000] [--seed 4]

The same persons are written by two countries the way their databases would: Serbian
in Cyrillic, Macedonian in Cyrillic or in the Latin romanisation (zh, sh, gj, kj),
Bosnian, Montenegrin, Kosovo and Albanian in Latin with or without diacritics; with
typos, given and family name swapped, and the birth date at the precision each country
has (often the year only). Around them: persons of only one country, relatives with the
same family name and birth year, and namesakes (common names, another birth date).

Precision and recall count cross-border record pairs: a predicted pair is two records of
different countries that linkage put in one person. Figures go to stdout and to
benchmarks/linkage-quality.json. The speed part links new records against an index of
``--population`` known persons (the world's recorded victims are about 200,000).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from anyascii import anyascii
from faker import Faker

from producers.linkage import LinkageEncoder, to_gaj_latin
from transforms.serbian_script import to_serbian_cyrillic
from warehouse.person_linkage import DEFAULT_THRESHOLD, LinkRecord, PersonIndex, clk_words, link_persons

RESULT_PATH = Path(__file__).with_name("linkage-quality.json")
THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)

# Faker has no Albanian names (sq_AL falls back to English): common ones, by hand.
_ALBANIAN_FEMALE = (
    "Arta Besa Drita Elira Fatjona Gentiana Jonida Klea Mirela Rudina Teuta Valbona Albana Anila Blerta Dorina"
    " Ermira Flutura Hana Lindita Majlinda Merita Shpresa Vjollca Zana Mimoza Nora Edona Qëndresa Adelina"
    " Alketa Anjeza Arjeta Brikena Diellza Donika Egzona Elona Elsa Enkeleda Erjona Fjolla Floriana Greta"
    " Ilirjana Jehona Kaltrina Lirie Luljeta Manjola Mirjeta Nazife Orjana Rezarta Rovena Saranda Shqipe"
    " Sidorela Valmira Vesa Xhensila Ylberina Yllka Zamira Kosovare Besarta Dafina Hatixhe Lumturie Teuta"
).split()
_ALBANIAN_MALE = (
    "Arben Besnik Dritan Ermal Fatos Gëzim Ilir Kujtim Luan Petrit Agron Bashkim Burim Driton Fitim Genc Jetmir"
    " Labinot Mentor Njazi Shkëlzen Valon Xhevdet Ylli Çlirim Arbër Blerim Enver Faton Qemal Adem Agim Altin"
    " Ardian Arianit Armend Astrit Bekim Bujar Dardan Edmond Elvis Endrit Erion Flamur Florian Granit Hysen"
    " Klodian Kreshnik Lorik Mërgim Nexhat Orges Pajtim Rinor Sokol Taulant Ukshin Valdrin Vllaznim Zef"
).split()
_ALBANIAN_FAMILY = (
    "Hoxha Krasniqi Gashi Berisha Shala Morina Leka Dervishi Kola Basha Bytyqi Kastrati Rexhepi Hasani Ahmeti"
    " Dushku Çela Lleshi Gjoka Marku Prifti Kuçi Zeqiri Sopaj Thaçi Haxhiu Mustafa Xhaferi Shehu Ibrahimi"
    " Aliu Bajrami Beqiri Bislimi Demiri Elezi Fejzullahu Gjonaj Hajdari Halili Hyseni Isufi Jashari Kelmendi"
    " Kryeziu Lika Limani Mehmeti Muja Nikolla Osmani Pllana Qerimi Rama Rugova Salihu Selimi Sejdiu Shabani"
    " Tahiri Topalli Vokshi Xhemajli Zeka Bejta Dibra Frashëri Gjini Kadriu Maloku Nuredini Pacolli Ramadani"
).split()

# Which countries see the same person: routes of the region (recruited, exploited, identified).
_ROUTES = (("RS", "MK"), ("RS", "BA"), ("RS", "ME"), ("MK", "AL"), ("XK", "AL"), ("XK", "MK"), ("BA", "ME"))
_MK_ROMAN = {"ž": "zh", "š": "sh", "č": "ch", "ć": "kj", "đ": "gj", "dž": "dzh"}
_KEYBOARD_NEIGHBOURS = {"a": "s", "e": "r", "i": "o", "o": "i", "n": "m", "m": "n", "r": "t", "s": "a", "t": "r"}


def _feminine(family: str) -> str:
    """Macedonian women's family names: Ivanov -> Ivanova, Petrovski -> Petrovska."""
    if family.endswith("ski"):
        return family[:-1] + "a"
    return family + "a" if family.endswith(("ov", "ev", "in")) else family


def _masculine(family: str) -> str:
    if family.endswith("ska"):
        return family[:-1] + "i"
    return family[:-1] if family.endswith(("ova", "eva", "ina")) else family


@dataclass(frozen=True)
class Person:
    """The truth about a person: names in Gaj's Latin with diacritics, birth date, sex."""

    given: str
    family: str
    born: date
    sex: str
    origin: str  # the name pool: sr (Serbo-Croatian), mk, sq


@dataclass(frozen=True)
class Written:
    """A national record of a person as one country wrote it."""

    key: str
    country: str
    given: str
    family: str
    birth: tuple[int, int | None, int | None] | None
    sex: str | None
    person: int  # index of the true person; -1 never shared


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        sr, mk = Faker("hr_HR"), Faker("mk_MK")
        sr_names, mk_names = sr.provider("faker.providers.person"), mk.provider("faker.providers.person")
        self.pools: dict[str, dict[str, list[str]]] = {
            "sr": {
                "F": list(sr_names.first_names_female),
                "M": list(sr_names.first_names_male),
                "family": list(sr_names.last_names),
            },
            "mk": {
                "F": [to_gaj_latin(n).title() for n in mk_names.first_names_female],
                "M": [to_gaj_latin(n).title() for n in mk_names.first_names_male],
                "family": [to_gaj_latin(n).title() for n in mk_names.last_names_male],
            },
            "sq": {"F": _ALBANIAN_FEMALE, "M": _ALBANIAN_MALE, "family": _ALBANIAN_FAMILY},
        }

    def pick(self, names: list[str]) -> str:
        # Zipf-like: a few names are very common, as in any population.
        weights = [1 / (rank + 1) ** 0.5 for rank in range(len(names))]
        return self.rng.choices(names, weights)[0]

    def person(self, origin: str | None = None) -> Person:
        origin = origin or self.rng.choice(["sr", "sr", "mk", "sq"])
        sex = "F" if self.rng.random() < 0.75 else "M"
        family = self.pick(self.pools[origin]["family"])
        if origin == "mk" and sex == "F":
            family = _feminine(family)
        born = date(1970, 1, 1) + timedelta(days=self.rng.randint(0, 40 * 365))
        return Person(self.pick(self.pools[origin][sex]), family, born, sex, origin)

    def relative(self, p: Person) -> Person:
        """A sibling or cousin: same family name and birth year, another given name."""
        sex = self.rng.choice("FM")
        given = p.given
        while given == p.given:
            given = self.pick(self.pools[p.origin][sex])
        born = date(p.born.year, 1, 1) + timedelta(days=self.rng.randint(0, 364))
        family = p.family
        if p.origin == "mk" and sex != p.sex:
            family = _feminine(family) if sex == "F" else _masculine(family)
        return Person(given, family, born, sex, p.origin)

    def namesake(self, p: Person) -> Person:
        """Same names, another person: another birth year, or another day of it.

        (Same names and same birth year, with one country knowing only the year, no
        method can tell apart; such pairs are left out rather than counted either way.)
        """
        if self.rng.random() < 0.7:
            born = p.born.replace(year=p.born.year + self.rng.choice([-3, -2, -1, 1, 2, 3]), day=min(p.born.day, 28))
        else:
            born = p.born + timedelta(days=self.rng.randint(1, 200)) * self.rng.choice([-1, 1])
            born = born.replace(year=p.born.year, day=min(born.day, 28))
        return Person(p.given, p.family, born, p.sex, p.origin)

    # -- how a country writes a name -----------------------------------------------------

    def spell(self, country: str, name: str, origin: str) -> str:
        roll = self.rng.random()
        if country == "RS" and origin != "sq":
            return to_serbian_cyrillic(name)
        if country == "MK" and origin != "sq":
            if roll < 0.5:
                return to_serbian_cyrillic(name).replace("ђ", "ѓ").replace("ћ", "ќ").replace("Ђ", "Ѓ").replace("Ћ", "Ќ")
            for letter, roman in _MK_ROMAN.items():
                name = name.replace(letter, roman).replace(letter.upper(), roman.capitalize())
            return name
        return anyascii(name) if roll < 0.4 else name  # diacritics dropped, or kept

    def typo(self, text: str) -> str:
        if len(text) < 4:
            return text
        i = self.rng.randint(1, len(text) - 2)
        kind = self.rng.choice(["substitute", "delete", "transpose", "double"])
        if kind == "substitute":
            return text[:i] + _KEYBOARD_NEIGHBOURS.get(text[i].lower(), "e") + text[i + 1 :]
        if kind == "delete":
            return text[:i] + text[i + 1 :]
        if kind == "transpose":
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        return text[:i] + text[i] + text[i:]

    def birth(self, born: date, full_share: float) -> tuple[int, int | None, int | None] | None:
        roll = self.rng.random()
        if roll < 0.02:
            return None  # not recorded: this record cannot be linked
        if roll < full_share:
            return born.year, born.month, born.day
        if roll < full_share + 0.1:
            return born.year, born.month, None
        return born.year, None, None

    def write(self, key: str, country: str, p: Person, person: int, varied: bool) -> Written:
        given, family = self.spell(country, p.given, p.origin), self.spell(country, p.family, p.origin)
        if varied and self.rng.random() < 0.2:
            if self.rng.random() < 0.5:
                given = self.typo(given)
            else:
                family = self.typo(family)
        if varied and self.rng.random() < 0.25:
            given, family = family, given  # family name first, or in the wrong column
        birth = self.birth(p.born, full_share=0.5 if varied else 0.8)
        sex = p.sex if self.rng.random() > 0.05 else None
        return Written(key, country, given, family, birth, sex, person)


def generate(persons: int, seed: int) -> list[Written]:
    """``persons`` shared persons, each written by two countries, among non-matches."""
    gen = Generator(seed)
    records: list[Written] = []
    for i in range(persons):
        a, b = gen.rng.choice(_ROUTES)
        p = gen.person()
        first = gen.write(f"{a}:{i:06d}a", a, p, i, varied=False)
        records += [first, gen.write(f"{b}:{i:06d}b", b, p, i, varied=True)]
        # Look-alikes where they hurt most: in the country that holds the match.
        if gen.rng.random() < 0.3:
            records.append(gen.write(f"{b}:{i:06d}r", b, gen.relative(p), -1, varied=True))
        if gen.rng.random() < 0.2:
            namesake = gen.namesake(p)
            written = gen.write(f"{b}:{i:06d}n", b, namesake, -1, varied=True)
            both_days = bool(written.birth and written.birth[2] and first.birth and first.birth[2])
            if namesake.born.year != p.born.year or both_days:
                records.append(written)
        if gen.rng.random() < 0.5:  # a person of one country only, from the same name pool
            country = gen.rng.choice([a, b])
            records.append(gen.write(f"{country}:{i:06d}s", country, gen.person(p.origin), -1, varied=True))
    return records


def encode(records: list[Written], encoder: LinkageEncoder) -> list[LinkRecord]:
    """The producer side: encodings of the records that have a birth year."""
    encoded = []
    for r in records:
        if r.birth is None:
            continue
        e = encoder.encode(r.given, r.family, r.birth)
        assert e is not None and e.birth_year is not None
        encoded.append(LinkRecord(r.key, r.country, e.key_id, e.clk, e.birth_year, e.birth_month, e.birth_day, r.sex))
    return encoded


def quality(records: list[Written], encoded: list[LinkRecord], threshold: float) -> dict[str, float]:
    truth = {r.key: r.person for r in records}
    true_pairs = {tuple(sorted(k for k, p in truth.items() if p == i)) for i in set(truth.values()) if i >= 0}
    groups: dict[str, list[str]] = {}
    for key, (person, _score) in link_persons(encoded, threshold).items():
        groups.setdefault(person, []).append(key)
    predicted = {
        (a, b) for keys in groups.values() for a in keys for b in keys if a < b and a.split(":")[0] != b.split(":")[0]
    }
    hits = len(predicted & true_pairs)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": len(true_pairs),
        "predicted_pairs": len(predicted),
        "false_links": len(predicted) - hits,
    }


def speed(population: int, new: int, seed: int, encoder: LinkageEncoder, threshold: float) -> dict[str, float]:
    """Records linked per second against an index of ``population`` known persons."""
    gen = Generator(seed + 1)
    countries = ("AL", "BA", "ME", "MK", "RS", "XK")
    known = [gen.write(f"K:{i}", countries[i % 6], gen.person(), -1, varied=False) for i in range(population)]
    arriving = [gen.write(f"N:{i}", countries[i % 6], gen.person(), -1, varied=True) for i in range(new)]
    generated = time.perf_counter()
    known_encoded, arriving_encoded = encode(known, encoder), encode(arriving, encoder)
    encoded = time.perf_counter()
    index = PersonIndex(known_encoded)
    index.candidates_of(arriving_encoded[:1], threshold)  # compile (or load the compiled code) first
    indexed = time.perf_counter()
    candidates = sum(len(found) for found in index.candidates_of(arriving_encoded, threshold))
    linked = time.perf_counter()
    # Baseline: the same comparisons with numpy, one record at a time (before 30 Nov).
    baseline = arriving_encoded[: max(1, len(arriving_encoded) // 5)]
    blocks = _numpy_blocks(known_encoded)
    started = time.perf_counter()
    for record in baseline:
        _numpy_candidates(blocks, record, threshold)
    numpy_seconds = time.perf_counter() - started
    return {
        "population": len(index),
        "new_records": len(arriving_encoded),
        "encodings_per_second_at_producer": round(len(known_encoded) / (encoded - generated)),
        "index_build_seconds": round(indexed - encoded, 2),
        "records_linked_per_second": round(len(arriving_encoded) / (linked - indexed)),
        "records_linked_per_second_numpy": round(len(baseline) / numpy_seconds),
        "candidate_links_found": candidates,
        "largest_block": max(len(block) for block in index.blocks()),
    }


def _numpy_blocks(records: list[LinkRecord]) -> dict[tuple[str, str, str], tuple[list[LinkRecord], np.ndarray]]:
    grouped: dict[tuple[str, str, str], list[LinkRecord]] = {}
    for r in records:
        grouped.setdefault((r.key_id, r.birth_year, r.country), []).append(r)
    return {k: (v, np.stack([clk_words(r.clk) for r in v])) for k, v in grouped.items()}


def _numpy_candidates(
    blocks: dict[tuple[str, str, str], tuple[list[LinkRecord], np.ndarray]], record: LinkRecord, threshold: float
) -> int:
    """The baseline: a record's similarity to each other country's block with numpy, then
    the pairs that pass checked one by one in Python (the matcher before 30 Nov)."""
    words = clk_words(record.clk)
    own = int(np.bitwise_count(words).sum())
    found = 0
    for (key_id, year, country), (members, block) in blocks.items():
        if key_id != record.key_id or year != record.birth_year or country == record.country:
            continue
        similarity = 2 * np.bitwise_count(block & words).sum(axis=1) / (np.bitwise_count(block).sum(axis=1) + own)
        for i in np.flatnonzero(similarity >= threshold - 0.1):
            other = members[int(i)]
            known = ((record.birth_month, other.birth_month), (record.birth_day, other.birth_day))
            found += all(a is None or b is None or a == b for a, b in (*known, (record.sex, other.sex)))
    return found


def run(persons: int, seed: int, threshold: float, population: int) -> dict[str, Any]:
    # The key is derived from the seed so that a run can be repeated figure for figure;
    # other keys give other bit collisions (figures move in the third decimal).
    encoder = LinkageEncoder(hashlib.sha256(f"benchmark key {seed}".encode()).digest())
    records = generate(persons, seed)
    encoded = encode(records, encoder)
    curve = [quality(records, encoded, t) for t in THRESHOLDS]
    chosen = next((q for q in curve if q["threshold"] == threshold), None) or quality(records, encoded, threshold)
    result: dict[str, Any] = {
        "persons_in_two_countries": persons,
        "records": len(records),
        "seed": seed,
        "threshold": threshold,
        "at_threshold": chosen,
        "curve": curve,
    }
    if population:
        result["speed"] = speed(population, min(5000, population), seed, encoder, threshold)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=2000, help="persons written by two countries")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="Dice similarity to link")
    parser.add_argument("--population", type=int, default=200_000, help="known persons for the speed test; 0: skip")
    parser.add_argument("--output", type=Path, default=RESULT_PATH)
    args = parser.parse_args()
    result = run(args.persons, args.seed, args.threshold, args.population)
    chosen = result["at_threshold"]
    assert isinstance(chosen, dict)
    print(
        f"{result['records']} records, {args.persons} persons in two countries; at Dice >= {args.threshold}:"
        f" precision {chosen['precision']:.4f}, recall {chosen['recall']:.4f}, F1 {chosen['f1']:.4f}"
    )
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>7} {'false links':>11}")
    for q in result["curve"]:
        figures = f"{q['precision']:>9.4f} {q['recall']:>7.4f} {q['f1']:>7.4f}"
        print(f"{q['threshold']:>9.2f} {figures} {q['false_links']:>11}")
    if "speed" in result:
        s = result["speed"]
        assert isinstance(s, dict)
        print(
            f"speed: {s['records_linked_per_second']} records linked per second against {s['population']} known"
            f" persons (numpy, one record at a time: {s['records_linked_per_second_numpy']} per second;"
            f" blocks of at most {s['largest_block']}; index built in {s['index_build_seconds']} s;"
            f" {s['encodings_per_second_at_producer']} encodings per second at the producer)"
        )
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
