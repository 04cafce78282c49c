"""The victims' contract (transforms/contract.py) against what is not derived from it: the
event model, the raw table, the code lists, the query dimensions, the published export
contract. A field added in one place and not the others fails here."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import duckdb
import pytest

from transforms import contract
from transforms.codelists import load_codelists
from transforms.events import VictimEvent
from transforms.rows import EVENT_COLUMNS, LINKAGE_COLUMNS
from warehouse.loader import ensure_schema
from warehouse.queries import DIMENSIONS
from warehouse.superseded import VICTIM_CONTENT

EXPORT_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "national-export-v1.md"
# Event fields that are the envelope, not a column of the export.
ENVELOPE = {"schema_version", "kind", "event_id", "country", "batch_id", "produced_at", "codelist_version", "linkage"}
# raw_victim_events' columns that are load metadata or the envelope.
LOAD_METADATA = {"event_id", "country", "codelist_version", "producer_batch_id", "produced_at", "topic",
                 "kafka_partition", "kafka_offset", "load_id", "validation_run_id", "loaded_at", "content_md5",
                 *LINKAGE_COLUMNS}  # fmt: skip


def _is_list(annotation: object) -> bool:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(typing.get_origin(o) is list for o in options)


def test_every_event_field_is_a_column_of_the_contract_and_back() -> None:
    declared = {name for f in contract.VICTIM_FIELDS for name in f.event}
    assert declared == set(VictimEvent.model_fields) - ENVELOPE


def test_multi_valued_columns_are_lists_on_the_event_and_single_ones_are_not() -> None:
    for field in contract.VICTIM_FIELDS:
        for name in field.event:
            annotation = VictimEvent.model_fields[name].annotation
            assert _is_list(annotation) == (field.kind in ("codes", "countries")), name


def test_the_raw_table_holds_the_contracts_columns_and_load_metadata_only() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    raw = {name for (name,) in con.execute("SELECT column_name FROM (DESCRIBE raw_victim_events)").fetchall()}
    declared = {name for f in contract.VICTIM_FIELDS for name in f.raw}
    assert declared <= raw and raw - declared <= LOAD_METADATA, (declared - raw, raw - declared - LOAD_METADATA)
    assert declared <= set(EVENT_COLUMNS)


def test_code_lists_and_dimensions_named_by_the_contract_exist() -> None:
    lists = load_codelists().lists
    for field in contract.VICTIM_FIELDS:
        assert (field.codelist is not None) == (field.kind in ("status", "code", "codes")), field.column
        assert field.codelist is None or field.codelist in lists, field.column
        assert field.dimension is None or field.dimension in DIMENSIONS, field.column
        assert bool(field.event) == (field.kind not in ("identifying", "free_text")), field.column


def test_a_superseded_version_loses_every_content_column() -> None:
    # age_group is stripped beside the content hash (warehouse/superseded.py keeps the
    # hash's columns in their historical order).
    assert set(VICTIM_CONTENT) | {"age_group"} == contract.content_columns()


@pytest.mark.skipif(not EXPORT_CONTRACT.exists(), reason="the shared contracts are not beside the repository")
def test_the_columns_are_the_published_export_contracts() -> None:
    text = EXPORT_CONTRACT.read_text(encoding="utf-8")
    victims = text.split("## victims.csv")[1].split("## perpetrators.csv")[0]
    published = []
    for line in victims.splitlines():
        match = re.match(r"^\| ([a-z_, ]+) \|", line)
        if match and match.group(1).strip() != "column":
            published += [c.strip() for c in match.group(1).split(",")]
    assert set(published) == set(contract.columns())
