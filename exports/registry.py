"""Every export format in one place: what it writes and how. The release service
(release/answers.py) decides what a role may have, the protection, k or privacy budget,
and hands it to the format's writer; the command line's --format choices are these names.

- csv, parquet: aggregate counts, one table a file, with a manifest (exports/counts.py)
- htcds: k-anonymous public microdata in the HTCDS layout (exports/htcds.py)
- dp-synthetic: differentially private synthetic records (exports/dp_synthetic.py)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from disclosure.perturbation import Perturbation


@dataclass(frozen=True)
class ExportParameters:
    """What the release service decided for this export; each writer reads its part."""

    min_cell: int = 5
    protection: Perturbation | None = None  # counts: perturbed unless exact for an entitled role
    k: int | None = None  # htcds: the k of k-anonymity
    epsilon: float = 1.0  # dp-synthetic: the privacy loss spent


@dataclass(frozen=True)
class Written:
    files: dict[str, bytes]
    document: dict[str, Any] = field(default_factory=dict)  # what the answer says beside the files


@dataclass(frozen=True)
class ExportWriter:
    name: str
    what: str
    write: Callable[[duckdb.DuckDBPyConnection, Path, ExportParameters], Written]


def _counts(format: str) -> Callable[[duckdb.DuckDBPyConnection, Path, ExportParameters], Written]:
    def write(con: duckdb.DuckDBPyConnection, folder: Path, parameters: ExportParameters) -> Written:
        from exports.counts import export_counts

        paths = export_counts(con, format, folder / "out", parameters.min_cell, parameters.protection)
        return Written({p.name: p.read_bytes() for p in paths}, {"tables": len(paths) - 1})

    return write


def _htcds(con: duckdb.DuckDBPyConnection, folder: Path, parameters: ExportParameters) -> Written:
    from exports.htcds import write_htcds_export

    summary = write_htcds_export(con, folder / "htcds.csv", parameters.k)
    return Written({"htcds.csv": (folder / "htcds.csv").read_bytes()}, {"summary": summary.as_dict()})


def _dp_synthetic(con: duckdb.DuckDBPyConnection, folder: Path, parameters: ExportParameters) -> Written:
    from exports.dp_synthetic import write_dp_synthetic

    summary = write_dp_synthetic(con, folder / "synthetic.csv", parameters.epsilon)
    return Written({"synthetic.csv": (folder / "synthetic.csv").read_bytes()}, {"summary": summary.as_dict()})


WRITERS: dict[str, ExportWriter] = {
    w.name: w
    for w in (
        ExportWriter("csv", "aggregate counts, a CSV file a table, and a manifest", _counts("csv")),
        ExportWriter("parquet", "aggregate counts, a Parquet file a table, and a manifest", _counts("parquet")),
        ExportWriter("htcds", "k-anonymous public microdata (HTCDS layout)", _htcds),
        ExportWriter("dp-synthetic", "differentially private synthetic records", _dp_synthetic),
    )
}
