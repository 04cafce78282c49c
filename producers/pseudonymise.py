"""Pseudonymisation at source: keyed hashes, so nothing identifying leaves the country.

A plain hash of a name can be reversed with a dictionary of names; HMAC-SHA-256 under a
key that stays in the country cannot, yet the same record always gets the same
pseudonym, so corrections and withdrawals find what they change.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from anyascii import anyascii

from disclosure.generalise import age_at
from producers.key_files import load_or_create
from producers.linkage import LinkageEncoder
from producers.row_checker import CheckedRow
from transforms.codelists import CURRENT_VERSION
from transforms.contract import PERPETRATORS, VICTIMS, Contract
from transforms.events import CaseEvent, PerpetratorEvent, VictimEvent


class KeyMissing(RuntimeError):
    """The country's pseudonymisation key is not where settings say it is."""


def load_or_create_country_key(key_dir: Path, country: str, create: bool) -> bytes:
    """The country's secret key, created (owner-only) for the local demo countries.

    A real country generates its key once, keeps it on the producer machine only
    (see README, "Keys"), and never lets it reach Kafka, the hub or a log.
    """
    path = key_dir / f"{country}.key"
    key = load_or_create(path, create, KeyMissing, f"the key file for {country}")
    if key is None:
        raise KeyMissing(
            f"no pseudonymisation key for {country} at {path}: make one with `thbdb keys init --country {country}`"
            " (once; or move the country's existing key there)"
        )
    return key


def normalise_name(text: str) -> str:
    """One Latin form of a name: transliterated, case and spacing folded.

    Јована Петровић, Jovana Petrović and JOVANA  PETROVIC all become ``jovana petrovic``.
    """
    return " ".join(anyascii(text).lower().replace("-", " ").split())


class Pseudonymiser:
    """Turns checked national rows into events, under one country's key."""

    def __init__(self, country: str, key: bytes, batch_id: str, linkage: LinkageEncoder | None = None):
        self.country = country
        self._key = key
        self.batch_id = batch_id
        self._linkage = linkage  # None: this producer has no shared linkage key

    def _keyed(self, purpose: str, value: str) -> str:
        # The purpose prefix keeps a record id and a case id with the same text apart.
        return hmac.new(self._key, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()

    def _event_id(self, *parts: object) -> str:
        """The id of one version of a record: the same row pushed again has the same id,
        so the warehouse loads it once. ``updated_at`` goes in as UTC ISO text."""
        text = [p.astimezone(UTC).isoformat() if isinstance(p, datetime) else str(p) for p in parts]
        return hashlib.sha256("|".join([self.country, *text]).encode()).hexdigest()[:32]

    def record_ref(self, record_id: str) -> str:
        """The pseudonym of a national record id."""
        return self._keyed("record", record_id)

    def perpetrator_ref(self, record_id: str) -> str:
        """The pseudonym of a national perpetrator record id (apart from victims' ids)."""
        return self._keyed("perpetrator", record_id)

    def pseudonym_of(self, kind: str, record_id: str) -> str:
        """The pseudonym of a record id of an export of ``kind`` (victims or perpetrators)."""
        return self.record_ref(record_id) if kind == "victims" else self.perpetrator_ref(record_id)

    def pseudonymise(self, row: CheckedRow, produced_at: datetime | None = None) -> CaseEvent:
        """The event of a checked row of either export."""
        if row.kind == "victims":
            return self.pseudonymise_victim(row, produced_at)
        return self.pseudonymise_perpetrator(row, produced_at)

    def pseudonymise_victim(self, row: CheckedRow, produced_at: datetime | None = None) -> VictimEvent:
        record_ref = self.record_ref(row.record_id)
        # A re-push under a rotated linkage key is a new event (same record version, new
        # encodings); under the same key it is the same event, skipped as before.
        linkage = [f"linkage:{self._linkage.key_id}"] if self._linkage else []
        return VictimEvent(
            event_id=self._event_id(record_ref, row.updated_at, *linkage),
            record_ref=record_ref,
            linkage=self._linkage.encode(row.given_name, row.family_name, row.birth) if self._linkage else None,
            **self._shared_fields(row, VICTIMS, produced_at),
        )

    def pseudonymise_perpetrator(self, row: CheckedRow, produced_at: datetime | None = None) -> PerpetratorEvent:
        record_ref = self.perpetrator_ref(row.record_id)
        return PerpetratorEvent(
            event_id=self._event_id("perpetrator", record_ref, row.updated_at),
            record_ref=record_ref,
            **self._shared_fields(row, PERPETRATORS, produced_at),
        )

    def _shared_fields(self, row: CheckedRow, contract: Contract, produced_at: datetime | None) -> dict[str, Any]:
        """What events of both kinds carry alike: the envelope, the case pseudonym, the
        record date as year and month, the age at that date (never the birth date), and
        the code and country columns as checked."""
        year, month = contract.record_date.event
        return {
            "country": self.country,
            "batch_id": self.batch_id,
            "produced_at": produced_at or datetime.now(UTC),
            "codelist_version": CURRENT_VERSION,
            # Keyed alike for victims and perpetrators, so the two of a case meet at the hub.
            "case_ref": self._keyed("case", row.case_ref) if row.case_ref else None,
            "updated_at": row.updated_at.astimezone(UTC),
            year: row.recorded_on.year,
            month: row.recorded_on.month,
            contract.age: age_at(row.birth, row.recorded_on) if row.birth else None,
            **{name: list(value) if isinstance(value, tuple) else value for name, value in row.carried.items()},
        }


def today_utc() -> date:
    return datetime.now(UTC).date()


def record_ids_by_pseudonym(key_dir: Path, country: str, export: Path) -> dict[str, str]:
    """record_ref -> national record_id for the records of an export, computed on the
    operator's machine with the country's key (the hub cannot do this)."""
    from producers.national_export import open_export

    key = load_or_create_country_key(key_dir, country, create=False)
    pseudonymiser = Pseudonymiser(country, key, batch_id="")
    kind, header, rows = open_export(export)
    if "record_id" not in header:
        return {}
    column = header.index("record_id")
    return {
        pseudonymiser.pseudonym_of(kind, fields[column].strip()): fields[column].strip()
        for _number, fields in rows
        if len(fields) > column
    }
