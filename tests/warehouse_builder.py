"""A small DuckDB warehouse built from national export files without the stack: the
producer's own checks and pseudonymisation, then the loader, in push order. For tests
of what is downstream of Kafka (queries, trends, reports, exports)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from producers.code_mapping import load_mapping
from producers.national_export import VictimRowChecker, open_export
from producers.perpetrator_export import PerpetratorRow, PerpetratorRowChecker
from producers.pseudonymise import Pseudonymiser
from transforms.perpetrator_rows import perpetrator_row
from transforms.rows import victim_row
from warehouse.loader import LoadBatch, connect, ensure_schema, load_batch, refresh_marts

TODAY = date(2026, 11, 25)


def load_exports(
    warehouse: Path, files: Iterable[tuple[str, Path]], key: bytes = bytes(32), linkage_key: bytes | None = None
) -> Path:
    """Load (country, export file) pairs, in order, and refresh the marts; with
    ``linkage_key``, with linkage encodings, so that linkage finds cross-border persons."""
    from producers.linkage import LinkageEncoder

    linkage = LinkageEncoder(linkage_key) if linkage_key else None
    with connect(warehouse) as con:
        ensure_schema(con)
        for number, (country, path) in enumerate(files):
            kind, header, rows = open_export(path)
            mapping = load_mapping(country)
            checker = (
                VictimRowChecker(country, mapping) if kind == "victims" else PerpetratorRowChecker(country, mapping)
            )
            pseudonymiser = Pseudonymiser(country, key, f"{number:032x}", linkage)
            batch = LoadBatch(
                topic=f"thbdb.events.{country.lower()}",
                country=country,
                load_id=f"load-{number}",
                validation_run_id=f"validation-{number}",
                airflow_run_id=None,
            )
            for offset, (row_number, fields) in enumerate(rows):
                checked = checker.check(row_number, header, fields, TODAY)
                if isinstance(checked, list):
                    continue
                if isinstance(checked, PerpetratorRow):
                    event = pseudonymiser.pseudonymise_perpetrator(checked)
                    batch.accepted_perpetrators.append((0, offset, perpetrator_row(event)))
                else:
                    batch.accepted.append((0, offset, victim_row(pseudonymiser.pseudonymise_victim(checked))))
            load_batch(con, batch)
        refresh_marts(con)
    return warehouse


def load_demo(warehouse: Path, exports: Path, seed: int = 7, linkage_key: bytes | None = None) -> Path:
    """The demo's synthetic exports of all six countries, loaded."""
    from producers.synthetic import write_demo_exports

    files = write_demo_exports(exports, seed=seed)
    pairs = [(country, path) for country in files for path in files[country]]
    return load_exports(warehouse, pairs, linkage_key=linkage_key)
