"""A benchmark figure beside its baseline, the table printed, the JSON written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    # True when a bigger value is better (events/s); False for seconds, ms and MB.
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Higher is better, 1.0 is as good as the baseline."""
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.value / self.baseline if self.higher_is_better else self.baseline / self.value

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "value": round(self.value, 3), "unit": self.unit}
        if self.baseline is not None:
            out["baseline"] = round(self.baseline, 3)
            out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        if self.note:
            out["note"] = self.note
        return out


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def table(figures: list[Figure]) -> str:
    """A plain-text table: name, value, unit, baseline, ratio (and a note)."""
    header = ("figure", "value", "unit", "baseline", "ratio", "note")
    rows = [
        (f.name, _number(f.value), f.unit, _number(f.baseline), "" if f.ratio is None else f"{f.ratio:.2f}", f.note)
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    right = {1, 3, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)])


def write_json(path: Path, figures: list[Figure]) -> None:
    path.write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n", encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]
