"""From perpetrator event to warehouse row: the age becomes an age band, as for victims."""

from __future__ import annotations

from typing import Any

from disclosure.generalise import age_band, age_group
from transforms.events import PerpetratorEvent

# Columns of raw_perpetrator_events that come from the event (the rest are load metadata).
PERPETRATOR_EVENT_COLUMNS = (
    "event_id",
    "country",
    "record_ref",
    "case_ref",
    "updated_at",
    "status",
    "sex",
    "citizenship",
    "age_band",
    "age_group",
    "registered_year",
    "registered_month",
    "roles",
    "structure",
    "relation_to_victim",
    "codelist_version",
    "producer_batch_id",
    "produced_at",
)


def perpetrator_row(event: PerpetratorEvent) -> dict[str, Any]:
    """The warehouse row of a perpetrator event: generalised quasi-identifiers only."""
    fields = event.model_dump(exclude={"schema_version", "kind", "age_at_registration", "batch_id"})
    fields["age_band"] = age_band(event.age_at_registration)
    fields["age_group"] = age_group(event.age_at_registration)
    fields["producer_batch_id"] = event.batch_id
    return {column: fields[column] for column in PERPETRATOR_EVENT_COLUMNS}
