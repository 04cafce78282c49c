"""Peak resident memory of the pipeline's worker processes under Airflow.

The LocalExecutor forks one process per task instance below the scheduler. While a run
lasts, every process that appeared under the scheduler after the watch began is read
from /proc: VmHWM is the kernel's own high-water mark of its resident memory, so a
sampling gap cannot miss the peak (the last read before the process exits is exact up to
the final ~50 ms).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from types import TracebackType

import psutil

# A task process is titled "airflow worker -- <task instance id>" (at first, just after
# the fork, with its parent's title, "... LocalExecutor: <task instance id>").
_INSTANCE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _high_water_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class WorkerMemory:
    """Context manager: ``peak_mb`` is the largest VmHWM of a process started meanwhile."""

    def __init__(self, parent_pid: int, poll: float = 0.05):
        self.parent = psutil.Process(parent_pid)
        self.poll = poll
        self.before = {p.pid for p in self.parent.children(recursive=True)}
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                children = self.parent.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                if child.pid in self.before:
                    continue
                peak = _high_water_mb(child.pid)
                if peak is not None:
                    self.peaks[child.pid] = max(self.peaks.get(child.pid, 0.0), peak)
                    if not _INSTANCE.search(self.names.get(child.pid, "")):
                        try:
                            self.names[child.pid] = " ".join(child.cmdline())[:200]
                        except psutil.Error:
                            self.names[child.pid] = "?"
            self._stop.wait(self.poll)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks.values(), default=0.0)

    def peaks_by_task(self, airflow_db: Path) -> dict[str, float]:
        """Largest peak per Airflow task id (drain_country, refresh_marts).

        The metadata database (read-only here) says which task each instance ran.
        """
        ids = {pid: m.group(0).replace("-", "") for pid, name in self.names.items() if (m := _INSTANCE.search(name))}
        tasks: dict[str, str] = {}
        with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True) as con:
            for instance, task in con.execute("SELECT id, task_id FROM task_instance"):
                tasks[str(instance).replace("-", "")] = str(task)
        out: dict[str, float] = {}
        for pid, peak in self.peaks.items():
            task = tasks.get(ids.get(pid, ""), "other")
            out[task] = max(out.get(task, 0.0), peak)
        return out

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
