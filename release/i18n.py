"""The languages of the region in the browser: gettext catalogues, read with Babel.

Every text of the web pages is a message in ``release/locale/thbdb.pot`` (extracted from
the templates and ``release/labels.py`` by ``make catalogues``). Each language has its
catalogue, ``release/locale/<language>/LC_MESSAGES/thbdb.po``, compiled here in memory
when the service first needs it, so no build step stands between a translator's edit and
the page. English is the source text. Names of legal categories carry a translator's
comment that they await review by the national focal points.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "thbdb"
DEFAULT = "en"

# Each language offered, with its name written in itself (what the switch shows).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "sr_Latn": "Srpski (latinica)",
    "sr_Cyrl": "Српски (ћирилица)",
    "sq": "Shqip",
    "mk": "Македонски",
}
# What a browser says (``sr``, ``sr-RS``, ``sr-Latn-RS``, ``sq-AL``...) to our names:
# plain Serbian is Cyrillic, as CLDR has it; Bosnian and Montenegrin readers get Latin.
_ALIASES = {"sr": "sr_Cyrl", "sh": "sr_Latn", "bs": "sr_Latn", "hr": "sr_Latn", "cnr": "sr_Latn"}


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language``; the source text for English."""
    if language == DEFAULT or language not in LANGUAGES:
        return gettext.NullTranslations()
    with catalogue_path(language).open("rb") as handle:
        catalogue = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries left out, as msgfmt does
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _ours(tag: str) -> str | None:
    """One language tag of a browser (``sr-Latn-RS``) as one of LANGUAGES, or None."""
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if locale.language == "sr" and locale.script:
        return f"sr_{locale.script}"
    if locale.language in LANGUAGES:
        return locale.language
    return _ALIASES.get(locale.language)


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The page's language: the one chosen with the switch, else the browser's first
    language that we have (Accept-Language, by its q values), else English."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, parameters = part.partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and tag.strip() != "*" and quality > 0:  # q=0: "not this one"
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        if (language := _ours(tag)) is not None:
            return language
    return DEFAULT


def locale_of(language: str) -> Locale:
    """Babel's locale of one of LANGUAGES (country names, numbers)."""
    return Locale.parse(language)


def html_lang(language: str) -> str:
    """The page's ``lang`` attribute (BCP 47: sr-Latn, sr-Cyrl)."""
    return language.replace("_", "-")
