"""From event to warehouse row: strip and generalise what could identify a person.

The exact age becomes an age band and minor or adult (disclosure/generalise.py): the
warehouse keeps only the generalised quasi-identifiers. Which columns a row has is the
contract's (transforms/contract.py): each field's raw columns, between the envelope and
the load metadata the event carries.
"""

from __future__ import annotations

from typing import Any

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


def _event_columns(contract: Contract) -> tuple[str, ...]:
    """A raw table's columns that come from the event (the rest are load metadata)."""
    raw = (column for field in contract.fields for column in field.raw)
    return ("event_id", "country", *raw, "codelist_version", "producer_batch_id", "produced_at")


EVENT_COLUMNS = (*_event_columns(VICTIMS), *LINKAGE_COLUMNS)  # raw_victim_events'
PERPETRATOR_EVENT_COLUMNS = _event_columns(PERPETRATORS)  # raw_perpetrator_events'


def _generalised(event: VictimEvent | PerpetratorEvent, contract: Contract) -> dict[str, Any]:
    age = getattr(event, contract.age)
    fields = event.model_dump(exclude={"schema_version", "kind", contract.age, "batch_id", "linkage"})
    return fields | {"age_band": age_band(age), "age_group": age_group(age), "producer_batch_id": event.batch_id}


def victim_row(event: VictimEvent) -> dict[str, Any]:
    """The warehouse row of a victim event, its linkage encoding flattened."""
    fields = _generalised(event, VICTIMS)
    linkage = event.linkage
    for column in LINKAGE_COLUMNS:
        fields[column] = getattr(linkage, column.removeprefix("linkage_")) if linkage else None
    return {column: fields[column] for column in EVENT_COLUMNS}


def perpetrator_row(event: PerpetratorEvent) -> dict[str, Any]:
    """The warehouse row of a perpetrator event."""
    fields = _generalised(event, PERPETRATORS)
    return {column: fields[column] for column in PERPETRATOR_EVENT_COLUMNS}
