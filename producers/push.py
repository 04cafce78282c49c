"""One national push: read the export, check it, pseudonymise, publish, report."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from producers.code_mapping import load_mapping
from producers.national_export import ExportRejected, Refusal, VictimRowChecker, open_export
from producers.pseudonymise import Pseudonymiser, load_or_create_country_key, today_utc
from producers.publisher import EventPublisher
from thbdb import kafka_security
from thbdb.settings import COUNTRIES, Settings, country_topic
from transforms.events import VictimEvent


@dataclass
class PushReport:
    country: str
    kind: str
    batch_id: str
    source: str
    published: int = 0
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
) -> PushReport:
    """Publish every acceptable row of ``path`` to ``country``'s topic.

    Refused rows are reported, never published, and never stop the others.
    """
    if country not in COUNTRIES:
        raise ExportRejected(f"unknown reporting country {country!r}; one of {', '.join(COUNTRIES)}")
    kind, header, rows = open_export(path)
    if kind != "victims":
        raise ExportRejected("perpetrators.csv is recognised but not yet published by this version; push victims.csv")
    key = load_or_create_country_key(settings.keys_dir, country, create=create_key)
    batch_id = uuid.uuid4().hex
    report = PushReport(country=country, kind=kind, batch_id=batch_id, source=path.name)
    checker = VictimRowChecker(country, load_mapping(country))
    pseudonymiser = Pseudonymiser(country, key, batch_id)
    today = today_utc()

    def events() -> Iterator[VictimEvent]:
        # A generator, so a whole archive streams through without being held in memory.
        accepted = 0
        for number, fields in rows:
            checked = checker.check(number, header, fields, today)
            if isinstance(checked, list):
                report.refused.extend(checked)
                continue
            yield pseudonymiser.pseudonymise_victim(checked)
            accepted += 1
            if on_progress and accepted % 1000 == 0:
                on_progress(accepted)

    publisher = EventPublisher(
        settings.kafka_bootstrap,
        country_topic(country),
        security=kafka_security.client_config(settings, kafka_security.country_principal(country)),
    )
    try:
        report.published = publisher.publish(events())
    finally:
        report.broker_interruptions = publisher.interruptions
    return report
