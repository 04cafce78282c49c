"""Where the drain's peak memory goes as the warehouse grows, without Kafka or Airflow.

`python -m benchmarks.drain_memory [--batches 50]`: ``drain_country`` loads batches of
20,000 events of one country into a new warehouse, each batch the same producer output
under new event ids and record pseudonyms (so every event is new, and nothing but the
ids has to be made per batch). After each batch it prints the resident memory between
batches, the peak since the start, and the peak of each step of that batch (the linkage
store's write, the load, the warehouse's close), read from /proc/self/status after
resetting the peak with /proc/self/clear_refs (Linux).

The Airflow task's figure (`python -m benchmarks`, "peak RSS of the pipeline worker")
is one number per run; this shows which step grows with the tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.drain_stages import COUNTRY, payloads
from config.settings import Settings
from pipeline import drain
from pipeline.sources import Message, StoredMessage
from warehouse import linkage_store

BATCH = 20_000


def _status(field: str) -> int:
    """A /proc/self/status figure, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")  # the kernel's peak resident memory starts again from now


class RenamedBatches:
    """The same events again and again, each batch under new ids: a growing warehouse."""

    def __init__(self, events: list[dict[str, Any]], batches: int):
        self.events, self.count = events, batches

    def batches(self, start: dict[int, int], batch_size: int) -> Iterator[list[Message]]:
        offset = 0
        for number in range(self.count):
            batch: list[Message] = []
            for event in self.events:
                renamed = dict(event)
                renamed["event_id"] = hashlib.md5(f"{event['event_id']} {number}".encode()).hexdigest()  # noqa: S324
                renamed["record_ref"] = hashlib.sha256(f"{event['record_ref']} {number}".encode()).hexdigest()
                batch.append(StoredMessage(json.dumps(renamed).encode(), 0, offset))
                offset += 1
            yield batch

    def close(self) -> None:
        pass


def _peak_of(step: str, peaks: dict[str, int], call: Callable[..., Any]) -> Callable[..., Any]:
    def measured(*args: Any, **kwargs: Any) -> Any:
        _reset_peak()
        try:
            return call(*args, **kwargs)
        finally:
            peaks[step] = _status("VmHWM")

    return measured


def measure(batches: int, workdir: Path, events_per_batch: int = BATCH) -> list[dict[str, int]]:
    """Per batch: events loaded, resident MB after it, peak MB so far, peak MB of each step."""
    events = [json.loads(p) for p in payloads(events_per_batch, workdir)]
    settings = Settings(home=workdir / "home")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    peaks: dict[str, int] = {}
    overall = [0]
    rows: list[dict[str, int]] = []
    opened = drain.connect

    @contextmanager
    def connect(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with opened(*args, **kwargs) as con:
            yield con
            _reset_peak()
        peaks["close"] = _status("VmHWM")

    def after_batch(report: drain.DrainReport) -> None:
        overall[0] = max(overall[0], *peaks.values())
        rows.append({"loaded": report.loaded, "resident": _status("VmRSS"), "peak": overall[0], **peaks})
        print(", ".join(f"{k} {v:,}" for k, v in rows[-1].items()), flush=True)

    patched = {
        (drain, "load_batch"): _peak_of("load", peaks, drain.load_batch),
        (linkage_store, "store_encodings"): _peak_of("store_encodings", peaks, linkage_store.store_encodings),
        (drain, "connect"): connect,
    }
    originals = {target: getattr(*target) for target in patched}
    for (module, name), replacement in patched.items():
        setattr(module, name, replacement)
    try:
        drain.drain_country(settings, COUNTRY, source=RenamedBatches(events, batches), on_batch=after_batch)
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drain_memory", description=__doc__)
    parser.add_argument("--batches", type=int, default=50, help="Batches of 20,000 events (50: a million).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thbdb-drain-memory-", ignore_cleanup_errors=True) as scratch:
        measure(args.batches, Path(scratch))


if __name__ == "__main__":
    main()
