"""The records a court order or a data subject's request names, as the hub may see them.

The operator lists national record ids in a file: one per line, or a CSV with a
``record_id`` column (a national export will do; only that column is read). Each id
becomes its pseudonym here, with the country's key, on the operator's machine: only
pseudonyms go to the hub (``thbdb erase``), which cannot turn them back into ids.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from producers.pseudonymise import Pseudonymiser, load_or_create_country_key

Kind = Literal["victims", "perpetrators"]
MAX_RECORDS = 100_000  # what the release service takes in one request


class ErasureListRejected(ValueError):
    """The file does not list record ids the way ``thbdb erase`` reads them."""


def record_ids(path: Path) -> list[str]:
    """The distinct record ids the file lists (never echoed in an error)."""
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise ErasureListRejected(f"{path.name} is not UTF-8 text") from None
    rows = [r for r in csv.reader(text.splitlines()) if any(f.strip() for f in r)]
    if not rows:
        raise ErasureListRejected(f"{path.name} lists no record ids")
    header = [f.strip() for f in rows[0]]
    column = header.index("record_id") if "record_id" in header else None
    if column is None and len(header) > 1:
        raise ErasureListRejected(f"{path.name} has several columns but none named record_id")
    listed = rows[1:] if column is not None else rows
    ids = []
    for number, row in enumerate(listed, start=2 if column is not None else 1):
        value = row[column or 0].strip() if len(row) > (column or 0) else ""
        if not value:
            raise ErasureListRejected(f"{path.name}, row {number}: no record_id")
        ids.append(value)
    distinct = sorted(set(ids))
    if len(distinct) > MAX_RECORDS:
        raise ErasureListRejected(f"{path.name} lists {len(distinct)} records; erase at most {MAX_RECORDS} at once")
    return distinct


def pseudonyms(key_dir: Path, country: str, kind: Kind, ids: list[str]) -> list[str]:
    """The pseudonyms of ``country``'s records ``ids`` of ``kind``, with its key."""
    key = load_or_create_country_key(key_dir, country, create=False)
    pseudonymiser = Pseudonymiser(country, key, batch_id="")
    return [pseudonymiser.pseudonym_of(kind, record_id) for record_id in ids]
