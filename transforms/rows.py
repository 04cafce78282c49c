"""From events to warehouse rows: strip and generalise what could identify a person.

The exact age becomes an age band and minor or adult (disclosure/generalise.py): the
warehouse keeps only the generalised quasi-identifiers. Which columns a row has is the
contract's (transforms/contract.py): each field's raw columns, between the envelope and
the load metadata the event carries.

A micro-batch becomes one frame, built column by column: the loader inserts it with one
statement (a dictionary per event cost about as much as validating the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from typing import Any

import pandas as pd
from pydantic import BaseModel

from disclosure.generalise import age_band, age_group
from transforms.contract import PERPETRATORS, VICTIMS, Contract
from transforms.events import PerpetratorEvent, VictimEvent

# The linkage encoding, flattened (warehouse/sql/raw/015_linkage.sql); all NULL without one.
LINKAGE_COLUMNS = (
    "linkage_key_id",
    "linkage_clk",
    "linkage_birth_year",
    "linkage_birth_month",
    "linkage_birth_day",
)
# Where in its topic each event was read: every row can be traced to its message.
POSITION_COLUMNS = ("kafka_partition", "kafka_offset")


def _event_columns(contract: Contract) -> tuple[str, ...]:
    """A raw table's columns that come from the event (the rest are load metadata)."""
    raw = (column for field in contract.fields for column in field.raw)
    return ("event_id", "country", *raw, "codelist_version", "producer_batch_id", "produced_at")


EVENT_COLUMNS = (*_event_columns(VICTIMS), *LINKAGE_COLUMNS)  # raw_victim_events'
PERPETRATOR_EVENT_COLUMNS = _event_columns(PERPETRATORS)  # raw_perpetrator_events'


@cache
def _band(age: int | None) -> str:
    return age_band(age)


@cache
def _group(age: int | None) -> str:
    return age_group(age)


def columns_of(events: Sequence[Any], names: Sequence[str]) -> dict[str, list[Any]]:
    """The named attributes of every event, as one list per name: one call per event
    reads them all (a getattr per value took three times as long)."""
    if not events:
        return {name: [] for name in names}
    read = attrgetter(*names)
    values = map(read, events) if len(names) > 1 else ((v,) for v in map(read, events))
    return dict(zip(names, map(list, zip(*values, strict=True)), strict=True))


@dataclass(frozen=True)
class EventColumns:
    """A batch's events read once, one list per field (the linkage encoding's parts as
    linkage_<part>): the suite's frame and the warehouse rows are both cut from it."""

    values: dict[str, list[Any]]
    count: int


def read_events(events: Sequence[BaseModel], model: type[BaseModel]) -> EventColumns:
    """Every field of ``events`` (of ``model``), but the envelope's constants."""
    names = [n for n in model.model_fields if n not in ("schema_version", "kind")]
    values = columns_of(events, names)
    if "linkage" in values:
        encodings = values.pop("linkage")
        for column in LINKAGE_COLUMNS:
            part = column.removeprefix("linkage_")
            values[column] = [getattr(encoding, part) if encoding else None for encoding in encodings]
    return EventColumns(values, len(events))


def _frame(
    events: EventColumns,
    contract: Contract,
    columns: tuple[str, ...],
    positions: Sequence[tuple[int, int]] | None,
    keep: Sequence[int] | None,
) -> pd.DataFrame:
    """The rows of the events at ``keep`` (all by default)."""

    def kept(name: str) -> list[Any]:
        values = events.values[name]
        return values if keep is None else [values[i] for i in keep]

    derived = {"age_band", "age_group", "producer_batch_id"}
    data = {c: kept(c) for c in columns if c not in derived}
    # The exact age is generalised here and never kept.
    ages = kept(contract.age)
    data["age_band"] = [_band(age) for age in ages]
    data["age_group"] = [_group(age) for age in ages]
    data["producer_batch_id"] = kept("batch_id")
    count = events.count if keep is None else len(keep)
    where = positions if positions is not None else [(0, offset) for offset in range(count)]
    data["kafka_partition"] = [partition for partition, _ in where]
    data["kafka_offset"] = [offset for _, offset in where]
    return pd.DataFrame(data, columns=[*columns, *POSITION_COLUMNS])


def victim_rows(
    events: EventColumns, positions: Sequence[tuple[int, int]] | None = None, keep: Sequence[int] | None = None
) -> pd.DataFrame:
    """The warehouse rows of the victim events at ``keep`` (all by default), their
    linkage encodings flattened, with the (partition, offset) each was read at (by
    default partition 0, offsets 0, 1, ...)."""
    return _frame(events, VICTIMS, EVENT_COLUMNS, positions, keep)


def perpetrator_rows(
    events: EventColumns, positions: Sequence[tuple[int, int]] | None = None, keep: Sequence[int] | None = None
) -> pd.DataFrame:
    """The warehouse rows of perpetrator events, as ``victim_rows``."""
    return _frame(events, PERPETRATORS, PERPETRATOR_EVENT_COLUMNS, positions, keep)


def victim_frame(events: Sequence[VictimEvent], positions: Sequence[tuple[int, int]] | None = None) -> pd.DataFrame:
    """The warehouse rows of victim events (``victim_rows`` of them all)."""
    return victim_rows(read_events(events, VictimEvent), positions)


def perpetrator_frame(
    events: Sequence[PerpetratorEvent], positions: Sequence[tuple[int, int]] | None = None
) -> pd.DataFrame:
    """The warehouse rows of perpetrator events (``perpetrator_rows`` of them all)."""
    return perpetrator_rows(read_events(events, PerpetratorEvent), positions)


def no_rows(columns: tuple[str, ...] = EVENT_COLUMNS) -> pd.DataFrame:
    """An empty batch of rows."""
    return pd.DataFrame({c: [] for c in (*columns, *POSITION_COLUMNS)}, dtype=object)
