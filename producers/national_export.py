"""Reading a national export (format v1, ../shared/contracts/national-export-v1.md):
the file's text, its header and its rows, streamed. Checking each row against the
contract is producers/row_checker.py's.

A refused file or row is reported by position and reason; the reason never quotes the
value, since any column may hold a personal value typed in the wrong place.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from transforms.contract import PERPETRATORS, VICTIMS

# The export's columns come from the contract (transforms/contract.py).
VICTIM_COLUMNS = VICTIMS.columns()
PERPETRATOR_COLUMNS = PERPETRATORS.columns()
TOO_LONG = "\x00field too long"  # marks a row whose field passed the CSV reader's limit


class ExportRejected(ValueError):
    """The whole file cannot be read (encoding, header); the message names no value."""


@dataclass(frozen=True)
class Refusal:
    row: int  # row number as a spreadsheet shows it: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


def detect_kind(header: list[str]) -> str:
    """``victims`` or ``perpetrators``, from the header alone."""
    names = set(header)
    if "identified_on" in names:
        return "victims"
    if "registered_on" in names:
        return "perpetrators"
    raise ExportRejected(
        "cannot tell the kind of export: the header has neither identified_on (victims.csv)"
        " nor registered_on (perpetrators.csv)"
    )


_CHUNK = 1 << 20  # bytes read at a time: an export of any size is read in bounded memory


def open_export(path: Path, handle: BinaryIO | None = None) -> tuple[str, list[str], Iterator[tuple[int, list[str]]]]:
    """Open a national export: its kind, header and an iterator of (row number, fields).

    The file is streamed, never held whole: a first pass checks that it is UTF-8 text
    without NUL characters (so a bad byte refuses the file before any row is published),
    then the rows are read as they are consumed. ``handle``: the file already opened, in
    binary, by a caller that changed account after opening it; closed when the rows end."""
    stream = path.open("rb") if handle is None else handle
    try:
        _check_text(stream)
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise ExportRejected("the file is empty: no header row") from None
        except csv.Error:
            raise ExportRejected("the header row is not valid CSV") from None
        kind, header = _checked_header(header)
    except BaseException:
        stream.close()
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            while True:
                number += 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    # An empty list marks a row the CSV reader could not split; a field past
                    # the reader's limit is said as such, not as unbalanced quotes.
                    yield number, [TOO_LONG] if "field larger than field limit" in str(error) else []
                    continue
                if fields:
                    yield number, fields
        finally:
            stream.close()

    return kind, header, rows()


def _check_text(stream: BinaryIO) -> None:
    """Refuse a file that is not UTF-8 text, or holds NUL characters, reading it once in
    chunks; then go back to its start."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    while chunk := stream.read(_CHUNK):
        if b"\x00" in chunk:
            raise ExportRejected("the file holds NUL characters: it is not a CSV text export")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            raise ExportRejected(
                f"the file is not UTF-8 text (first bad byte at offset {offset + error.start});"
                " export it again as UTF-8"
            ) from None
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ExportRejected(
            "the file is not UTF-8 text (it ends inside a character); export it again as UTF-8"
        ) from None
    stream.seek(0)


def _checked_header(header: list[str]) -> tuple[str, list[str]]:
    """The export's kind and its header, or ExportRejected naming columns by position."""
    header = [name.strip() for name in header]
    kind = detect_kind(header)
    contract = VICTIMS if kind == "victims" else PERPETRATORS
    known = contract.columns()
    unknown = [(i, n) for i, n in enumerate(header, start=1) if n not in known]
    if unknown:
        # By position only: a header row that is really a data row (or a name typed into
        # the header) must not be echoed, whatever it looks like.
        shown = ", ".join(str(i) for i, _name in unknown[:10])
        raise ExportRejected(f"unknown column(s) in the header, by position: {shown}")
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise ExportRejected(f"column(s) appear twice in the header: {', '.join(duplicated)}")
    missing = [n for n in contract.required() if n not in header]
    if missing:
        raise ExportRejected(f"required column(s) missing from the header: {', '.join(missing)}")

    return kind, header
