"""One national push: read the export, check it, pseudonymise, publish, report."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

from pydantic import ValidationError

from config.settings import COUNTRIES, Settings, country_topic
from pipeline import kafka_security
from producers import country_keys
from producers.code_mapping import load_mapping
from producers.linkage import LinkageEncoder, load_or_create_linkage_key
from producers.national_export import ExportRejected, Refusal, open_export
from producers.pseudonymise import Pseudonymiser, load_or_create_country_key, today_utc
from producers.publisher import EventPublisher, EventSink
from producers.row_checker import row_checker
from transforms.contract import PERPETRATORS, VICTIMS
from transforms.events import CaseEvent

# The export column each event field comes from (a refusal names the column).
_EVENT_TO_COLUMN = {name: f.column for c in (VICTIMS, PERPETRATORS) for f in c.fields for name in f.event}
_CONTRACT_REASON = "outside what the regional event contract allows"


@dataclass
class PushReport:
    country: str
    kind: str
    batch_id: str
    source: str
    published: int = 0
    linkage: bool = False  # whether the events carry linkage encodings
    refused: list[Refusal] = field(default_factory=list)
    broker_interruptions: int = 0  # connection faults the publisher rode out by retrying

    @property
    def refused_rows(self) -> int:
        return len({r.row for r in self.refused})


def push_export(
    settings: Settings,
    country: str,
    path: Path,
    create_key: bool = False,
    on_progress: Callable[[int], None] | None = None,
    handle: BinaryIO | None = None,
    keys_ready: bool = False,
    sink: EventSink | None = None,
) -> PushReport:
    """Publish every acceptable row of ``path`` to ``country``'s topic (``handle``: the
    file, opened before the push took on the country's account), streamed: rows are
    read, checked and published one by one, in bounded memory whatever the file's size.

    Refused rows are reported, never published, and never stop the others. ``sink``:
    where the events go, by default the country's Kafka topic (a ListSink in tests).
    """
    if country not in COUNTRIES:
        raise ExportRejected(f"unknown reporting country {country!r}; one of {', '.join(COUNTRIES)}")
    kind, header, rows = open_export(path, handle)
    # ``keys_ready``: the caller put the keys in place before taking on the country's
    # account, which may not look into the shared keys/ folder.
    folder = settings.country_keys_dir(country) if keys_ready else country_keys.prepare(settings, country, create_key)
    key = load_or_create_country_key(folder, country, create=False)
    batch_id = uuid.uuid4().hex
    # Without the region's shared linkage key the push still goes out, unlinked.
    linkage_key = load_or_create_linkage_key(folder, create=False) if kind == "victims" else None
    report = PushReport(country=country, kind=kind, batch_id=batch_id, source=path.name, linkage=bool(linkage_key))
    pseudonymiser = Pseudonymiser(country, key, batch_id, LinkageEncoder(linkage_key) if linkage_key else None)
    events = export_events(country, kind, header, rows, pseudonymiser, today_utc(), report.refused, on_progress)
    publisher = sink or EventPublisher(
        settings.kafka_bootstrap,
        country_topic(country),
        security=kafka_security.client_config(settings, kafka_security.country_principal(country)),
    )
    try:
        report.published = publisher.publish(events)
    finally:
        report.broker_interruptions = publisher.interruptions
    return report


def export_events(
    country: str,
    kind: str,
    header: list[str],
    rows: Iterable[tuple[int, list[str]]],
    pseudonymiser: Pseudonymiser,
    today: date,
    refused: list[Refusal],
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[CaseEvent]:
    """The events of an export's rows, checked and pseudonymised, one by one (a generator,
    so a whole archive streams through without being held in memory); the refusals of bad
    rows go into ``refused``."""
    mapping = load_mapping(country)
    checker = row_checker(kind, country, mapping)
    accepted = 0
    for number, fields in rows:
        checked = checker.check(number, header, fields, today)
        if isinstance(checked, list):
            refused.extend(checked)
            continue
        try:
            event = pseudonymiser.pseudonymise(checked)
        except ValidationError as error:
            # A bound the row checker missed: refused like any bad row, by row and
            # column, never with the value; the other rows go on.
            refused.extend(
                Refusal(number, _EVENT_TO_COLUMN.get(str(e["loc"][0]), str(e["loc"][0])), _CONTRACT_REASON)
                for e in error.errors()
            )
            continue
        yield event
        accepted += 1
        if on_progress and accepted % 1000 == 0:
            on_progress(accepted)
