"""From event to warehouse row: strip and generalise what could identify a person."""

from __future__ import annotations

from typing import Any

from disclosure.generalise import age_band, age_group
from transforms.events import VictimEvent

# The linkage encoding, flattened (warehouse/sql/raw/015_linkage.sql); all NULL without one.
LINKAGE_COLUMNS = (
    "linkage_key_id",
    "linkage_clk",
    "linkage_birth_year",
    "linkage_birth_month",
    "linkage_birth_day",
)
# Columns of raw_victim_events that come from the event (the rest are load metadata).
EVENT_COLUMNS = (
    "event_id",
    "country",
    "record_ref",
    "case_ref",
    "updated_at",
    "status",
    "case_category",
    "sex",
    "citizenship",
    "age_band",
    "age_group",
    "identified_year",
    "identified_month",
    "identified_by",
    "exploitation_types",
    "recorded_by",
    "country_of_exploitation",
    "recruited_in",
    "transit_countries",
    "recruitment_method",
    "means_of_control",
    "means_of_travel",
    "means_of_communication",
    "codelist_version",
    "producer_batch_id",
    "produced_at",
    *LINKAGE_COLUMNS,
)


def victim_row(event: VictimEvent) -> dict[str, Any]:
    """The warehouse row of a victim event.

    The exact age becomes an age band and minor/adult: the warehouse keeps only the
    generalised quasi-identifiers.
    """
    fields = event.model_dump(exclude={"schema_version", "kind", "age_at_identification", "batch_id", "linkage"})
    fields["age_band"] = age_band(event.age_at_identification)
    fields["age_group"] = age_group(event.age_at_identification)
    fields["producer_batch_id"] = event.batch_id
    linkage = event.linkage
    fields["linkage_key_id"] = linkage.key_id if linkage else None
    fields["linkage_clk"] = linkage.clk if linkage else None
    fields["linkage_birth_year"] = linkage.birth_year if linkage else None
    fields["linkage_birth_month"] = linkage.birth_month if linkage else None
    fields["linkage_birth_day"] = linkage.birth_day if linkage else None
    return {column: fields[column] for column in EVENT_COLUMNS}
