"""`python -m benchmarks.large_export [--mb 1024]`: a national export of a gigabyte pushed
in bounded memory.

`thbdb produce` streams the file (producers/national_export.py): it checks that the file
is UTF-8 in one pass of 1 MiB reads, then reads, checks, pseudonymises and publishes row
by row, with librdkafka's queue bounded at 64 MB (producers/publisher.py). The figure is
the peak resident memory (the kernel's VmHWM) of the `thbdb produce` process pushing the
large file to a real broker, beside the same push of a file 16 times smaller in the same
run: bounded memory means the two are about equal. Before streaming, the file was read
whole and decoded, so the process held at least twice the file's size.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchmarks.bench_stack import THBDB, BenchStack
from benchmarks.results import Figure, table, write_json
from producers.national_export import VICTIM_COLUMNS
from producers.synthetic import VictimProfile, victim_rows

COUNTRY = "RS"


def write_export(path: Path, megabytes: int) -> int:
    """A valid victims export of about ``megabytes`` MB; how many rows it holds. Rows are a
    thousand synthetic profiles again and again, each time under new record ids."""
    profiles = [
        VictimProfile(f"T-{i}", date(2020 + i % 5, 1 + i % 12, 1 + i % 28), "MF"[i % 2], 14 + i % 50, "RS",
                      [("labour", "sexual", "begging")[i % 3]])
        for i in range(1000)
    ]  # fmt: skip
    template = victim_rows(COUNTRY, profiles, seed=5)
    target, rows = megabytes * 1_000_000, 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=VICTIM_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        while handle.tell() < target:
            for row in template:
                writer.writerow({**row, "record_id": f"RS-BIG-{rows:09d}"})
                rows += 1
    return rows


@dataclass
class Push:
    rows: int
    megabytes: float
    seconds: float
    peak_mb: float


def _high_water_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def push(stack: BenchStack, export: Path, rows: int) -> Push:
    """`thbdb produce` the export; its time and its process's peak resident memory."""
    started = time.monotonic()
    process = subprocess.Popen(
        [THBDB, "produce", "--country", COUNTRY, "--input", str(export), "--create-key"],
        env=stack.env, cwd=stack.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = [0.0]
    done = threading.Event()

    def watch() -> None:  # VmHWM only grows: the last read before the exit is the peak
        while not done.is_set():
            peak[0] = max(peak[0], _high_water_mb(process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = process.communicate(timeout=7200)
    done.set()
    watcher.join()
    if process.returncode != 0 or f"{rows} rows published" not in out:
        raise RuntimeError(f"the push failed ({process.returncode}): {out[-500:]} {err[-2000:]}")
    return Push(rows, export.stat().st_size / 1e6, time.monotonic() - started, peak[0])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_export", description=__doc__)
    parser.add_argument("--mb", type=int, default=1024, help="Size of the large export in MB (1024).")
    parser.add_argument("--out", type=Path, default=Path("bench-large-export.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="thbdb-bench-export-"))
    stack = BenchStack.create()
    try:
        small_mb = max(1, args.mb // 16)
        print(f"writing exports of {args.mb} MB and {small_mb} MB under {workdir}", file=sys.stderr)
        large_rows = write_export(workdir / "large.csv", args.mb)
        small_rows = write_export(workdir / "small.csv", small_mb)
        print(f"starting a broker under {stack.home}", file=sys.stderr)
        stack.up(airflow=False)
        small = push(stack, workdir / "small.csv", small_rows)
        print(f"small push: {small}", file=sys.stderr)
        large = push(stack, workdir / "large.csv", large_rows)
        print(f"large push: {large}", file=sys.stderr)
    finally:
        stack.down()
        shutil.rmtree(workdir, ignore_errors=True)
    figures = [
        Figure(
            f"peak RSS of `thbdb produce`, {large.megabytes:,.0f} MB export ({large.rows:,} rows)",
            large.peak_mb,
            "MB",
            small.peak_mb,
            higher_is_better=False,
            note=f"baseline: the same push of {small.megabytes:,.0f} MB ({small.rows:,} rows); 1.0 = flat",
        ),
        Figure(
            f"produce rate, {large.megabytes:,.0f} MB export",
            large.rows / large.seconds,
            "rows/s",
            small.rows / small.seconds,
            note="baseline: the smaller export",
        ),
        Figure(f"produce time, {large.megabytes:,.0f} MB export", large.seconds, "s", higher_is_better=False),
    ]
    print(table(figures))
    write_json(args.out, figures)


if __name__ == "__main__":
    main()
