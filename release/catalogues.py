"""Keeps the browser's catalogues (release/i18n.py) in step with the code: ``make
catalogues`` runs ``python -m release.catalogues``.

1. extracts every message of the pages into release/locale/thbdb.pot (Babel, with the
   translators' comments marked ``REVIEW:``: legal categories awaiting the national focal
   points' review);
2. brings each language's catalogue up to date with it (new messages empty, old ones
   dropped), keeping what translators wrote;
3. writes Serbian in Cyrillic script from Serbian in Latin script: the two scripts map
   letter for letter, so one translation serves both and they never drift apart.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from release.i18n import DEFAULT, DOMAIN, LANGUAGES, LOCALE_DIR, catalogue_path
from transforms.serbian_script import to_serbian_cyrillic

ROOT = LOCALE_DIR.parents[1]
PYBABEL = str(Path(sys.executable).with_name("pybabel"))
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
# Written from sr_Latn, never by hand.
DERIVED = {"sr_Cyrl": "sr_Latn"}

# Kept as written: placeholders, commands in backquotes, acronyms (CSV), names of formats,
# tools and the system, the k and l of k-anonymity.
_KEPT = re.compile(r"%\([a-z_]+\)s|`[^`]*`|\b[A-Z]{2,}\b|\b(?:thbdb|pycanon|plotly|Parquet)\b|\b[kl](?=-)")


def to_cyrillic(text: str) -> str:
    """Serbian Latin script to Cyrillic, what ``_KEPT`` matches left as it is."""
    out, start = [], 0
    for kept in _KEPT.finditer(text):
        out.append(to_serbian_cyrillic(text[start : kept.start()]))
        out.append(kept.group())
        start = kept.end()
    out.append(to_serbian_cyrillic(text[start:]))
    return "".join(out)


def extract(target: Path = TEMPLATE) -> None:
    """Every message of the pages into ``target`` (the test extracts into a scratch file)."""
    subprocess.run(
        [PYBABEL, "extract", "-F", str(LOCALE_DIR / "babel.cfg"),
         "-c", "REVIEW:", "--no-location", "--sort-output", "--omit-header", "-k", "N_", "-o", str(target), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def update(language: str) -> None:
    subprocess.run(
        [PYBABEL, "update", "-i", str(TEMPLATE), "-d", str(LOCALE_DIR),
         "-D", DOMAIN, "-l", language, "--no-fuzzy-matching", "--ignore-obsolete"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


def derive(language: str, source: str) -> None:
    """``language``'s catalogue as ``source``'s, every translation transliterated."""
    with catalogue_path(source).open("rb") as handle:
        catalogue = read_po(handle, locale=source, domain=DOMAIN)
    catalogue.locale = language
    for message in catalogue:
        if message.id and isinstance(message.string, str):
            message.string = to_cyrillic(message.string)
    catalogue.language_team = f"Serbian (Cyrillic), written from {source} by release/catalogues.py"
    path = catalogue_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, omit_header=False, sort_output=True, width=100)


def main() -> None:
    extract()
    for language in LANGUAGES:
        if language != DEFAULT and language not in DERIVED and catalogue_path(language).exists():
            update(language)
    for language, source in DERIVED.items():
        derive(language, source)
    print(f"catalogues updated: {TEMPLATE.relative_to(ROOT)} and {', '.join(sorted(set(LANGUAGES) - {DEFAULT}))}")


if __name__ == "__main__":
    main()
