"""A small DuckDB warehouse built from national export files without the stack, on the
production path: the producer's checks and pseudonymisation (producers/push.py's
export_events) into a list instead of Kafka, then the pipeline's drain (parsing, Great
Expectations, generalisation, the atomic load) from that list, then the marts. For tests
of what is downstream of Kafka (queries, trends, reports, exports)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from config.settings import Settings
from pipeline.drain import drain_country
from pipeline.sources import MemorySource
from producers.national_export import open_export
from producers.pseudonymise import Pseudonymiser
from producers.publisher import ListSink
from producers.push import export_events
from warehouse.loader import connect, ensure_schema, refresh_marts

TODAY = date(2026, 11, 25)


def load_exports(
    warehouse: Path, files: Iterable[tuple[str, Path]], key: bytes = bytes(32), linkage_key: bytes | None = None
) -> Path:
    """Load (country, export file) pairs, each country's in order, and refresh the marts;
    with ``linkage_key``, with linkage encodings, so that linkage finds cross-border
    persons. The key is fixed, so pseudonyms are the same from run to run."""
    from producers.linkage import LinkageEncoder

    linkage = LinkageEncoder(linkage_key) if linkage_key else None
    topics: dict[str, ListSink] = {}
    for number, (country, path) in enumerate(files):
        kind, header, rows = open_export(path)
        pseudonymiser = Pseudonymiser(country, key, f"{number:032x}", linkage)
        topics.setdefault(country, ListSink()).publish(
            export_events(country, kind, header, rows, pseudonymiser, TODAY, refused=[])
        )
    # The hub's side: its folders beside the warehouse (validation results, secrets).
    settings = Settings(home=warehouse.parent / f"{warehouse.stem}-hub")
    with connect(warehouse) as con:
        ensure_schema(con)
    for country, topic in topics.items():
        drain_country(settings, country, source=MemorySource(topic.messages), warehouse=warehouse)
    with connect(warehouse) as con:
        refresh_marts(con)
    return warehouse


def load_demo(warehouse: Path, exports: Path, seed: int = 7, linkage_key: bytes | None = None) -> Path:
    """The demo's synthetic exports of all six countries, loaded."""
    from producers.demo_exports import write_demo_exports

    files = write_demo_exports(exports, seed=seed)
    pairs = [(country, path) for country in files for path in files[country]]
    return load_exports(warehouse, pairs, linkage_key=linkage_key)
