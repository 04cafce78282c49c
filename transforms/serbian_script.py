"""Serbian's two scripts: Latin to Cyrillic. Vuk's alphabet has one letter per sound and
Gaj's Latin maps onto it letter for letter (lj, nj and dž are one letter each), so the
conversion is exact. The synthetic national exports spell names in Cyrillic with it
(producers/synthetic.py), and the browser's Serbian Cyrillic catalogue is written from the
Latin one with it (release/catalogues.py)."""

from __future__ import annotations

_LETTERS = dict(zip("abcčćdđefghijklmnoprsštuvzž", "абцчћдђефгхијклмнопрсштувзж", strict=True))
_LETTERS |= {latin.upper(): cyrillic.upper() for latin, cyrillic in _LETTERS.items()}
_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ", "Lj": "Љ", "LJ": "Љ", "Nj": "Њ", "NJ": "Њ", "Dž": "Џ", "DŽ": "Џ"}


def to_serbian_cyrillic(text: str) -> str:
    """``text`` in Serbian Latin script, in Cyrillic; anything else is left as it is."""
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _DIGRAPHS:
            out.append(_DIGRAPHS[pair])
            i += 2
        else:
            out.append(_LETTERS.get(text[i], text[i]))
            i += 1
    return "".join(out)
