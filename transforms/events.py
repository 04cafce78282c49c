"""The case event: what a national producer publishes to Kafka, version 1.

This module is the contract between producers and the regional pipeline. The JSON Schema
in ``schemas/case-event-v1.schema.json`` is generated from ``VictimEvent`` (``make
schema``) and checked by a test, so the documentation cannot drift from the code.

No field may carry a personal value: names, birth dates, documents, phones, addresses
and notes stay in the country. Records and cases travel as keyed pseudonyms
(64 hex digits of HMAC-SHA-256); birth date travels as age in whole years at
identification; the identification date as year and month.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION: Literal[1] = 1
SCHEMA_PATH = Path(__file__).with_name("schemas") / "case-event-v1.schema.json"
PERPETRATOR_SCHEMA_PATH = Path(__file__).with_name("schemas") / "perpetrator-event-v1.schema.json"
# Larger messages are refused before parsing: a real event is well under 4 KiB.
MAX_EVENT_BYTES = 64 * 1024

Pseudonym = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Code = Annotated[str, Field(pattern=r"^[a-z_]{1,40}$|^[A-Z]$")]
BirthToken = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
# v1 (double hashing, unsalted) can be decoded at the hub: it is still read, so that old
# events load, but only v2 is produced, and encodings of two schemes never meet.
Scheme = Literal["clk-bigram-1024-k20-v1", "clk-rh-yearsalt-blip-1024-k20-v2"]


class LinkageEncoding(BaseModel):
    """What the hub needs to find the same person in another country, and nothing it
    could read: a keyed Bloom filter of the name's letter pairs and keyed tokens of the
    birth date at the precision the country has (see producers/linkage.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: Scheme = Field(description="How the filter was built; only encodings of one scheme and key are compared.")
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}$")] = Field(
        description="Fingerprint of the shared linkage key: only encodings under the same key are compared."
    )
    clk: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{171}=$")] = Field(
        description="Base64 of the 1024-bit Bloom filter of the normalised names' bigrams (HMAC-keyed)."
    )
    birth_year: BirthToken | None = Field(default=None, description="Keyed token of the birth year (blocking).")
    birth_month: BirthToken | None = Field(default=None, description="Keyed token of year and month, if known.")
    birth_day: BirthToken | None = Field(default=None, description="Keyed token of the full birth date, if known.")


class _RecordVersion(BaseModel):
    """What every event carries: the envelope, and which version of which national record
    it is (the record and case as keyed pseudonyms; the case keyed alike for victims and
    perpetrators, so the hub links the two by case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: str
    event_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="Deterministic id of (country, record, updated_at): a re-push has the same id."
    )
    country: CountryCode = Field(description="Reporting country; must equal the topic's.")
    batch_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] = Field(
        description="The producer push (one `thbdb produce`) this event came from."
    )
    produced_at: datetime
    codelist_version: int = Field(ge=1)
    record_ref: Pseudonym = Field(description="Keyed pseudonym of the national record_id.")
    case_ref: Pseudonym | None = Field(default=None, description="Keyed pseudonym of the national case_ref.")
    updated_at: datetime
    status: Code

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class VictimEvent(_RecordVersion):
    """One version of one national victim record, pseudonymised at source."""

    kind: Literal["victim"] = "victim"
    case_category: Code | None = None
    sex: Code | None = None
    citizenship: CountryCode | None = None
    age_at_identification: int | None = Field(default=None, ge=0, le=120)
    identified_year: int = Field(ge=1990, le=2100)
    identified_month: int = Field(ge=1, le=12)
    identified_by: Code | None = None
    # For list fields, null means "not recorded"; [] never travels.
    exploitation_types: list[Code] | None = None
    # Every agency that met the person (identified_by codes; export v1.1): the lists
    # multiple systems estimation counts the overlaps of.
    recorded_by: list[Code] | None = None
    country_of_exploitation: CountryCode | None = None
    recruited_in: CountryCode | None = None
    transit_countries: list[CountryCode] | None = None
    recruitment_method: Code | None = None
    means_of_control: list[Code] | None = None
    means_of_travel: list[Code] | None = None
    means_of_communication: list[Code] | None = None
    # Optional: producers without the region's linkage key, and older events, have none.
    linkage: LinkageEncoding | None = None


class PerpetratorEvent(_RecordVersion):
    """One version of one national perpetrator record, pseudonymised at source. It
    travels on the country's topic beside victim events; ``kind`` tells them apart."""

    kind: Literal["perpetrator"] = "perpetrator"
    sex: Code | None = None
    citizenship: CountryCode | None = None
    age_at_registration: int | None = Field(default=None, ge=0, le=120)
    registered_year: int = Field(ge=1990, le=2100)
    registered_month: int = Field(ge=1, le=12)
    roles: list[Code] | None = None  # null: not recorded
    structure: Code | None = None
    relation_to_victim: Code | None = None


CaseEvent = VictimEvent | PerpetratorEvent


class EventRejected(ValueError):
    """A message that is not a valid event; ``reason`` names fields, never values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event(payload: bytes) -> CaseEvent:
    """Parse a Kafka message value into an event, or raise ``EventRejected``.

    The reason says which field failed and how, never the value: pydantic's own
    messages quote the input, so they are rebuilt here from the error type only.
    """
    if len(payload) > MAX_EVENT_BYTES:
        raise EventRejected(f"message too large ({len(payload)} bytes > {MAX_EVENT_BYTES})")
    try:
        # Fast path: pydantic parses and validates the JSON in one pass (about twice as
        # fast). Whatever it refuses goes the long way below, which words the reason.
        return VictimEvent.model_validate_json(payload)
    except ValidationError:
        pass
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EventRejected("message is not JSON text") from None
    if not isinstance(raw, dict):
        raise EventRejected("message is not a JSON object")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise EventRejected("unsupported schema_version (this pipeline reads version 1)")
    try:
        if raw.get("kind") == "perpetrator":
            return PerpetratorEvent.model_validate(raw)
        return VictimEvent.model_validate(raw)
    except ValidationError as error:
        problems = sorted({f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['type']}" for e in error.errors()})
        raise EventRejected("schema: " + "; ".join(problems)) from None


def json_schema(model: type[BaseModel] = VictimEvent) -> dict[str, object]:
    """The JSON Schema of an event kind, as published in ``schemas/``."""
    schema = model.model_json_schema()
    path = SCHEMA_PATH if model is VictimEvent else PERPETRATOR_SCHEMA_PATH
    schema["$id"] = f"https://thbdb.example/schemas/{path.name}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def field_bounds(model: type[BaseModel], name: str) -> tuple[int | None, int | None]:
    """The inclusive bounds a model declares on a numeric field (``Field(ge=, le=)``):
    the row checkers read them here, so producers refuse what the contract would."""
    low = high = None
    for constraint in model.model_fields[name].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


if __name__ == "__main__":  # `make schema`: publish the JSON Schemas beside the code
    SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    PERPETRATOR_SCHEMA_PATH.write_text(json.dumps(json_schema(PerpetratorEvent), indent=2, sort_keys=True) + "\n")
