"""Linkage encodings at source: what lets the hub find one person in two countries
without ever seeing a name or a birth date.

A person's names are normalised to one Latin form, cut into letter pairs (bigrams) and
hashed into a Bloom filter of 1024 bits (a cryptographic long-term key, CLK, after
Schnell, Bachteler and Reiher 2009, as the clkhash/anonlink family does it). Every hash
is an HMAC under the region's *linkage key*, a secret shared by the national producers
and never by the hub: the hub can compare two filters (similar names set similar bits)
but cannot test a guessed name against a filter. The birth date travels as keyed
tokens (year, year-month, year-month-day, as precise as the country knows it), so the
hub can block on an equal year and veto a different day without learning either.

Why not clkhash/anonlink: their last releases date from 2023 and the repositories are
no longer maintained; they pull a C++ extension and a dozen dependencies for what is,
here, fifty lines of standard-library HMAC. The scheme below is the same (bigrams,
double hashing of HMAC-SHA-256 outputs into k positions), written out so that a
national data-protection officer can read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from anyascii import anyascii

from transforms.events import LinkageEncoding

KEY_BYTES = 32
KEY_FILE = "linkage.key"
FILTER_BITS = 1024
HASHES_PER_BIGRAM = 20  # with ~15-25 bigrams a name, about a third of the bits are set
SCHEME: Final = "clk-bigram-1024-k20-v1"

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
    path = key_dir / KEY_FILE
    if path.exists():
        key = bytes.fromhex(path.read_text("ascii").strip())
        if len(key) != KEY_BYTES:
            raise LinkageKeyMissing(f"the linkage key file does not hold a {KEY_BYTES}-byte key")
        return key
    if not create:
        return None
    key_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another country's push made it a moment ago
        return load_or_create_linkage_key(key_dir, create=False)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


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
    """Encodes identifying fields under the shared key; lives at the producer only."""

    key: bytes
    # bigram -> its bit positions; a few hundred bigrams cover a region's names
    _positions: dict[str, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.key, f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key: the hub compares only encodings made under
        the same key, which is what a key rotation needs."""
        return self._mac("key-id", SCHEME).hex()[:8]

    def bloom_filter(self, given_name: str, family_name: str) -> bytes:
        bits = bytearray(FILTER_BITS // 8)
        for gram in bigrams(name_tokens(given_name, family_name)):
            for position in self._bigram_positions(gram):
                bits[position // 8] |= 1 << (position % 8)
        return bytes(bits)

    def _bigram_positions(self, gram: str) -> tuple[int, ...]:
        positions = self._positions.get(gram)
        if positions is None:
            digest = self._mac("bigram", gram)
            # Double hashing (Kirsch and Mitzenmacher): k positions from two hashes.
            first = int.from_bytes(digest[:8], "big")
            step = int.from_bytes(digest[8:16], "big") | 1
            positions = tuple((first + i * step) % FILTER_BITS for i in range(HASHES_PER_BIGRAM))
            self._positions[gram] = positions
        return positions

    def birth_token(self, part: str) -> str:
        return self._mac("birth", part).hex()[:16]

    def encode(
        self,
        given_name: str,
        family_name: str,
        birth: tuple[int, int | None, int | None] | None,
    ) -> LinkageEncoding:
        year, month, day = birth if birth else (None, None, None)
        return LinkageEncoding(
            scheme=SCHEME,
            key_id=self.key_id,
            clk=base64.b64encode(self.bloom_filter(given_name, family_name)).decode("ascii"),
            birth_year=self.birth_token(f"{year:04d}") if year else None,
            birth_month=self.birth_token(f"{year:04d}-{month:02d}") if year and month else None,
            birth_day=self.birth_token(f"{year:04d}-{month:02d}-{day:02d}") if year and month and day else None,
        )
