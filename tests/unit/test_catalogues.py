"""The browser's catalogues (release/i18n.py, release/catalogues.py): in step with the
code, Serbian complete in both scripts, the others started, legal categories marked for
the national focal points' review, every placeholder kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from release import catalogues, i18n, labels
from release.i18n import catalogue_path

LEGAL = ("Sexual exploitation", "Presumed victim", "Identified victim", "Convicted", "Smuggling of migrants")


def _read(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    return {m.id: m for m in catalogue if m.id}  # type: ignore[misc]


def test_the_template_holds_every_message_of_the_code(tmp_path: Path) -> None:
    """`make catalogues` was run after the last change of a page's text."""
    fresh = tmp_path / "fresh.pot"
    catalogues.extract(fresh)
    assert set(_read(fresh)) == set(_read(catalogues.TEMPLATE)), "run `make catalogues`"


@pytest.mark.parametrize("language", ["sr_Latn", "sr_Cyrl"])
def test_serbian_is_complete_in_both_scripts(language: str) -> None:
    template = _read(catalogues.TEMPLATE)
    translated = {k: m for k, m in _read(catalogue_path(language)).items() if m.string}  # type: ignore[attr-defined]
    assert set(template) - set(translated) == set()


@pytest.mark.parametrize("language", ["sq", "mk"])
def test_albanian_and_macedonian_are_started(language: str) -> None:
    translated = [m for m in _read(catalogue_path(language)).values() if m.string]  # type: ignore[attr-defined]
    assert len(translated) >= 40


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT])
def test_every_translation_keeps_its_placeholders_and_compiles(language: str) -> None:
    with catalogue_path(language).open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    problems = [(message.id, errors) for message, errors in catalogue.check()]
    assert problems == []
    # Pages insert a translation as it is (the i18n extension marks it safe): no markup in one.
    assert [m.id for m in catalogue if m.id and isinstance(m.string, str) and "<" in m.string] == []
    assert i18n.translations(language).gettext("Tables") != ""


def test_legal_categories_await_the_focal_points_review() -> None:
    template = _read(catalogues.TEMPLATE)
    for name in LEGAL:
        assert any("awaits review by the national focal points" in c for c in template[name].auto_comments)  # type: ignore[attr-defined]
    serbian = _read(catalogue_path("sr_Latn"))
    assert "awaits review" in " ".join(serbian["Sexual exploitation"].auto_comments)  # type: ignore[attr-defined]


def test_cyrillic_is_written_letter_for_letter_from_latin() -> None:
    assert catalogues.to_cyrillic("Ljubljana, njiva, džep, Đurđevdan") == "Љубљана, њива, џеп, Ђурђевдан"
    assert (
        catalogues.to_cyrillic("Ćelije ispod %(threshold)s su uskraćene (CSV)")
        == "Ћелије испод %(threshold)s су ускраћене (CSV)"
    )
    assert catalogues.to_cyrillic("pokrenite `thbdb quarantine --records`; k-anonimnost") == (
        "покрените `thbdb quarantine --records`; k-анонимност"
    )
    latin, cyrillic = _read(catalogue_path("sr_Latn")), _read(catalogue_path("sr_Cyrl"))
    for key, message in latin.items():
        assert cyrillic[key].string == catalogues.to_cyrillic(message.string), key  # type: ignore[attr-defined]


def test_every_label_is_a_message() -> None:
    template = _read(catalogues.TEMPLATE)
    for text in [*labels.MEASURES.values(), *labels.DIMENSIONS.values(), *labels.CODES.values()]:
        assert text in template
