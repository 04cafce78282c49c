"""The contracts (transforms/contract.py) against what is not derived from them: the event
models, the raw tables, the code lists, the query dimensions, the published export
contract. A field added in one place and not the others fails here."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import duckdb
import pytest
from pydantic import BaseModel

from transforms.codelists import load_codelists
from transforms.contract import PERPETRATORS, VICTIMS, Contract
from transforms.events import PerpetratorEvent, VictimEvent
from transforms.rows import EVENT_COLUMNS, LINKAGE_COLUMNS, PERPETRATOR_EVENT_COLUMNS
from warehouse.loader import ensure_schema
from warehouse.perpetrators import PERPETRATOR_DIMENSIONS
from warehouse.queries import DIMENSIONS
from warehouse.superseded import _STRIPPED, VICTIM_CONTENT

EXPORT_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "national-export-v1.md"
# Event fields that are the envelope, not a column of the export.
ENVELOPE = {"schema_version", "kind", "event_id", "country", "batch_id", "produced_at", "codelist_version", "linkage"}
# raw_victim_events' columns that are load metadata or the envelope.
LOAD_METADATA = {"event_id", "country", "codelist_version", "producer_batch_id", "produced_at", "topic",
                 "kafka_partition", "kafka_offset", "load_id", "validation_run_id", "loaded_at", "content_md5",
                 *LINKAGE_COLUMNS}  # fmt: skip
# Each contract with its event model, raw table, row columns and query dimensions.
KINDS = [
    pytest.param(VICTIMS, VictimEvent, "raw_victim_events", EVENT_COLUMNS, DIMENSIONS, id="victims"),
    pytest.param(
        PERPETRATORS, PerpetratorEvent, "raw_perpetrator_events", PERPETRATOR_EVENT_COLUMNS, PERPETRATOR_DIMENSIONS,
        id="perpetrators",
    ),
]  # fmt: skip


def _is_list(annotation: object) -> bool:
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return any(typing.get_origin(o) is list for o in options)


@pytest.mark.parametrize(("contract", "model", "table", "row_columns", "dimensions"), KINDS)
def test_every_event_field_is_a_column_of_the_contract_and_back(
    contract: Contract, model: type[BaseModel], table: str, row_columns: tuple[str, ...], dimensions: dict[str, str]
) -> None:
    declared = {name for f in contract.fields for name in f.event}
    assert declared == set(model.model_fields) - ENVELOPE


@pytest.mark.parametrize(("contract", "model", "table", "row_columns", "dimensions"), KINDS)
def test_multi_valued_columns_are_lists_on_the_event_and_single_ones_are_not(
    contract: Contract, model: type[BaseModel], table: str, row_columns: tuple[str, ...], dimensions: dict[str, str]
) -> None:
    for field in contract.fields:
        for name in field.event:
            assert _is_list(model.model_fields[name].annotation) == field.multi_valued, name


@pytest.mark.parametrize(("contract", "model", "table", "row_columns", "dimensions"), KINDS)
def test_the_raw_table_holds_the_contracts_columns_and_load_metadata_only(
    contract: Contract, model: type[BaseModel], table: str, row_columns: tuple[str, ...], dimensions: dict[str, str]
) -> None:
    con = duckdb.connect()
    ensure_schema(con)
    raw = {name for (name,) in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}
    declared = {name for f in contract.fields for name in f.raw}
    assert declared <= raw and raw - declared <= LOAD_METADATA, (declared - raw, raw - declared - LOAD_METADATA)
    assert declared <= set(row_columns)


@pytest.mark.parametrize(("contract", "model", "table", "row_columns", "dimensions"), KINDS)
def test_code_lists_and_dimensions_named_by_the_contract_exist(
    contract: Contract, model: type[BaseModel], table: str, row_columns: tuple[str, ...], dimensions: dict[str, str]
) -> None:
    lists = load_codelists().lists
    for field in contract.fields:
        assert (field.codelist is not None) == (field.kind in ("status", "code", "codes")), field.column
        assert field.codelist is None or field.codelist in lists, field.column
        assert field.dimension is None or field.dimension in dimensions, field.column
        assert bool(field.event) == (field.kind not in ("identifying", "free_text")), field.column


def test_a_superseded_version_loses_every_content_column() -> None:
    # age_group is stripped beside the content hash (warehouse/superseded.py keeps the
    # hash's columns in their historical order); status stays, it says what happened.
    assert set(VICTIM_CONTENT) | {"age_group"} == VICTIMS.content_columns()
    assert set(_STRIPPED["raw_perpetrator_events"]) | {"status"} == PERPETRATORS.content_columns() | {"case_ref"}


@pytest.mark.skipif(not EXPORT_CONTRACT.exists(), reason="the shared contracts are not beside the repository")
@pytest.mark.parametrize("contract", [VICTIMS, PERPETRATORS], ids=["victims", "perpetrators"])
def test_the_columns_are_the_published_export_contracts(contract: Contract) -> None:
    text = EXPORT_CONTRACT.read_text(encoding="utf-8")
    section = text.split(f"## {contract.export}.csv")[1].split("\n## ")[0]
    published = []
    for line in section.splitlines():
        match = re.match(r"^\| ([a-z_, ]+) \|", line)
        if match and match.group(1).strip() != "column":
            published += [c.strip() for c in match.group(1).split(",")]
    assert set(published) == set(contract.columns())
