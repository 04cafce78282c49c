"""Linkage encodings at source: what lets the hub find one person in two countries
without ever seeing a name or a birth date.

A person's names are normalised to one Latin form, cut into letter pairs (bigrams) and
hashed into a Bloom filter of 1024 bits (a cryptographic long-term key, CLK, after
Schnell, Bachteler and Reiher 2009). Every hash is an HMAC under the region's *linkage
key*, a secret shared by the national producers and never by the hub. The birth date
travels as keyed tokens (year, year-month, year-month-day, as precise as the country
knows it), so the hub can block on an equal year and veto a different day without
learning either.

Plain Bloom filters give names up to whoever holds many of them: scheme v1 (double
hashing, no salt) was decoded at the hub, without the key, for over 90 % of names
(benchmarks/linkage_attacks.py keeps it as the control). Scheme v2, below, is hardened
against each published attack: see ``LinkageEncoder``. Encodings name their scheme, and
the key fingerprint includes it, so encodings of two schemes are never compared.

Why not clkhash/anonlink: their last releases date from 2023 and the repositories are
no longer maintained; they pull a C++ extension and a dozen dependencies for what is,
here, a page of standard-library HMAC, written out so that a national data-protection
officer can read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from anyascii import anyascii

from producers.key_files import load_or_create
from transforms.events import LinkageEncoding, Scheme

KEY_FILE = "linkage.key"
FILTER_BITS = 1024
HASHES_PER_BIGRAM = 20  # with ~15-25 bigrams a name, about a third of the bits are set
SCHEME: Final[Scheme] = "clk-rh-yearsalt-blip-1024-k20-v2"
# BLIP: the share of bits flipped in every filter (see LinkageEncoder)
FLIP_PROBABILITY = 0.02

# Serbian and Macedonian Cyrillic -> Gaj's Latin (the Serbo-Croatian spelling with
# diacritics), so Ж and Ž, Ћ and Ć end up alike; anyascii then drops the diacritics.
# Macedonian ѓ and ќ are the sounds Serbian writes đ and ć; ѕ is dz.
_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "ѓ": "đ", "е": "e", "ж": "ž", "з": "z",
    "ѕ": "dz", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "ќ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip
# ASCII spellings of the same sounds, as Macedonian romanisation, Albanian and hurried
# typists write them: folded to one letter on both sides, so "Zheljko" meets "Zeljko".
_DIGRAPHS = (("dzh", "dz"), ("zh", "z"), ("sh", "s"), ("ch", "c"), ("dj", "d"), ("gj", "d"), ("kj", "c"))


class LinkageKeyMissing(RuntimeError):
    """The region's shared linkage key is not where settings say it is."""


def load_or_create_linkage_key(key_dir: Path, create: bool) -> bytes | None:
    """The linkage key shared by the national producers, or None if this producer has none.

    In the local demo every country's producer runs on one machine, so one file serves
    them all; in a region the key is generated once by one national focal point and
    handed to the others out of band (README, "Linking persons across countries").
    """
    return load_or_create(key_dir / KEY_FILE, create, LinkageKeyMissing, "the linkage key file")


def to_gaj_latin(text: str) -> str:
    """Serbian or Macedonian Cyrillic in Latin letters with diacritics (lower case)."""
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in text)


def name_tokens(*names: str) -> list[str]:
    """The words of a person's names in one folded Latin form, sorted.

    Sorting makes the order of given and family name irrelevant: a country that writes
    the family name first, or puts it in the wrong column, produces the same tokens.
    """
    text = anyascii(to_gaj_latin(" ".join(names))).lower()
    text = "".join(ch if "a" <= ch <= "z" else " " for ch in text)
    tokens = []
    for word in text.split():
        for spelled, folded in _DIGRAPHS:
            word = word.replace(spelled, folded)
        # A doubled letter is a typo in Serbo-Croatian and a spelling (ll, rr) in
        # Albanian; dropping it makes both sides agree either way.
        word = "".join(ch for i, ch in enumerate(word) if i == 0 or ch != word[i - 1])
        tokens.append(word)
    return sorted(tokens)


def bigrams(tokens: list[str]) -> set[str]:
    """Letter pairs of each word, padded so first and last letters count too."""
    grams: set[str] = set()
    for token in tokens:
        padded = f"_{token}_"
        grams.update(padded[i : i + 2] for i in range(len(padded) - 1))
    return grams


@dataclass(frozen=True)
class LinkageEncoder:
    """Encodes identifying fields under the shared key; lives at the producer only.

    Scheme v2, hardened against the published attacks on Bloom-filter encodings:

    - **Random hashing** (Schnell, Borgs and Encarnação 2017): each of a bigram's k bit
      positions is its own HMAC of (salt, bigram, index). v1 derived them by double
      hashing, ``first + i*step``, so only 1024 x 512 position sets existed and the hub
      found every bigram's set by trying them all (Niedermeyer et al. 2014).
    - **A salt from the birth year** (Niedermeyer et al.; Christen et al. 2018): the
      positions of a bigram differ from one birth year to the next. Records are only
      ever compared within a year (the blocking key), so linkage loses nothing, but a
      frequency or pattern-mining attacker at the hub sees each year's few dozen
      records apart instead of the region's thousands, and the bits of "an" in 1994
      tell nothing about "an" in 1995. A record without a birth year is never linked,
      so it gets no filter at all.
    - **BLIP** (Schnell and Borgs 2016; Alaggan et al.): each bit is flipped with a
      small probability drawn from a keyed generator seeded by the record's own
      tokens, so a re-push of the same record gives the same filter (no averaging),
      and a bit pattern that always appears together no longer always does.

    benchmarks/linkage_attacks.py attacks this scheme and v1 in the same run.
    """

    key: bytes
    flip_probability: float = FLIP_PROBABILITY
    # (salt, bigram) -> its bit positions; a few hundred bigrams a year
    _positions: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def _mac(self, purpose: str, *values: str) -> bytes:
        return hmac.new(self.key, "\x1f".join((purpose, *values)).encode(), hashlib.sha256).digest()

    @property
    def scheme(self) -> Scheme:
        return SCHEME

    @property
    def key_id(self) -> str:
        """A public fingerprint of key and scheme: the hub compares only encodings made
        under the same key and scheme, which is what a key rotation needs."""
        return self._mac("key-id", self.scheme).hex()[:8]

    def bloom_filter(self, given_name: str, family_name: str, salt: str) -> bytes:
        tokens = name_tokens(given_name, family_name)
        bits = bytearray(FILTER_BITS // 8)
        for gram in bigrams(tokens):
            for position in self._bigram_positions(salt, gram):
                bits[position // 8] |= 1 << (position % 8)
        if self.flip_probability > 0:
            self._flip(bits, salt, tokens)
        return bytes(bits)

    def _bigram_positions(self, salt: str, gram: str) -> tuple[int, ...]:
        positions = self._positions.get((salt, gram))
        if positions is None:
            # 2 bytes of an HMAC per position: 65,536 is a multiple of 1024, so no bias.
            positions = tuple(
                int.from_bytes(self._mac("bigram", salt, gram, str(i))[:2], "big") % FILTER_BITS
                for i in range(HASHES_PER_BIGRAM)
            )
            self._positions[(salt, gram)] = positions
        return positions

    def _flip(self, bits: bytearray, salt: str, tokens: list[str]) -> None:
        """BLIP: flip each bit with ``flip_probability``, from a keyed stream of the
        record's own salt and tokens (deterministic: the same name and year, the same
        filter, so repeated pushes cannot be averaged)."""
        stream = hashlib.shake_256(self._mac("blip", salt, " ".join(tokens))).digest(FILTER_BITS * 2)
        limit = round(self.flip_probability * 65536)
        for position in range(FILTER_BITS):
            if int.from_bytes(stream[2 * position : 2 * position + 2], "big") < limit:
                bits[position // 8] ^= 1 << (position % 8)

    def birth_token(self, part: str) -> str:
        return self._mac("birth", part).hex()[:16]

    def encode(
        self,
        given_name: str,
        family_name: str,
        birth: tuple[int, int | None, int | None] | None,
    ) -> LinkageEncoding | None:
        """The record's encoding, or None without a birth year (it could never link)."""
        year, month, day = birth if birth else (None, None, None)
        if not year:
            return None
        return LinkageEncoding(
            scheme=self.scheme,
            key_id=self.key_id,
            clk=base64.b64encode(self.bloom_filter(given_name, family_name, f"{year:04d}")).decode("ascii"),
            birth_year=self.birth_token(f"{year:04d}"),
            birth_month=self.birth_token(f"{year:04d}-{month:02d}") if month else None,
            birth_day=self.birth_token(f"{year:04d}-{month:02d}-{day:02d}") if month and day else None,
        )
