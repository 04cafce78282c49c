"""Trend tests over a whole series, and false-discovery control across a query's tests.

A shift that builds slowly (a form of exploitation among minors growing a little every
year) is missed by a test of each period against the one before: each step is too small.
The whole series is tested instead, for a trend in the share of a category:

- the **Cochran-Armitage test** for a trend in proportions (statsmodels' linear-by-linear
  association test on the periods x (in the category, not) table, with the periods'
  order as scores) gives the p-value; it holds for small counts and for series that are
  0 at first and all of them later, where a regression cannot be fitted;
- a **binomial regression** with a time slope (logit link) gives the size of the trend:
  the change of the log-odds of the share per period, with its 95 % interval; None where
  the fit does not exist (a share of 0 then 1).

A query tests many cells and series at once, so its p-values are adjusted together with
the **Benjamini-Hochberg** procedure (false-discovery control); a flag needs the adjusted
value (the q-value) under the level, and both values are reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy.stats import false_discovery_control
from statsmodels.stats.contingency_tables import Table

TREND_TEST = "cochran-armitage"
MIN_PERIODS = 3  # a trend needs three periods at least


@dataclass(frozen=True)
class SeriesTrend:
    p_value: float
    slope: float | None  # log-odds of the share per period
    slope_low: float | None  # its 95 % interval
    slope_high: float | None


def series_trend(steps: Sequence[float], counts: Sequence[int], totals: Sequence[int]) -> SeriesTrend | None:
    """The trend of the share counts/totals over the periods at ``steps`` (their order on
    a common scale: a missing period keeps its gap); None when it cannot be tested (too
    few periods with victims, or a share that never varies from 0 or from 1)."""
    kept = [(s, n, t) for s, n, t in zip(steps, counts, totals, strict=True) if t > 0]
    if len(kept) < MIN_PERIODS:
        return None
    x = np.array([s for s, _, _ in kept], dtype=float)
    inside = np.array([n for _, n, _ in kept], dtype=float)
    outside = np.array([t - n for _, n, t in kept], dtype=float)
    if not inside.any() or not outside.any():
        return None  # 0 of every total, or all of it: no variation to test
    table = Table(np.column_stack([inside, outside]))
    p_value = float(table.test_ordinal_association(row_scores=x, col_scores=np.array([1.0, 0.0])).pvalue)
    slope = low = high = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # perfect separation: no finite slope to report
        try:
            fit = sm.GLM(np.column_stack([inside, outside]), sm.add_constant(x), family=sm.families.Binomial()).fit()
            if fit.converged:
                slope = float(fit.params[1])
                low, high = (float(v) for v in fit.conf_int()[1])
        except (Warning, ValueError, np.linalg.LinAlgError):
            pass
    return SeriesTrend(min(1.0, p_value), slope, low, high)


def adjusted(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q-values of ``p_values``, in their order."""
    if not p_values:
        return []
    return [float(q) for q in false_discovery_control(np.array(p_values, dtype=float), method="bh")]


# Alarms for sudden changes: EARS C1, C2 and C3 (the CDC's Early Aberration Reporting
# System). Chosen over the Farrington flexible algorithm because this database's history
# is short (a few years from the first push) and its counts small: Farrington fits a
# quasi-Poisson model to the same period of several past years, which needs years of
# comparable history; EARS needs seven past periods. EARS gives thresholds, not p-values,
# so its alarms are reported beside the tests and take no part in the false-discovery
# control.
EARS_BASELINE = 7  # periods in the baseline
EARS_THRESHOLD = 3.0  # standard deviations above the baseline's mean (C1, C2)
EARS_C3_THRESHOLD = 2.0
# With counts of a few victims a baseline often does not vary: its deviation is taken as
# one victim at least, so that a single extra victim after zeros is no alarm.
EARS_MIN_SD = 1.0


def _ears_statistic(history: Sequence[int | None], at: int, guard: int) -> float | None:
    """(count - mean) / sd of the seven periods before ``at``, leaving out the ``guard``
    periods just before it (C1: none; C2 and C3: two, so a rise already under way does
    not raise its own baseline)."""
    end = at - guard
    start = end - EARS_BASELINE
    now = history[at]
    window = history[start:end] if start >= 0 else []
    if now is None or not window or any(v is None for v in window):
        return None  # too little history, or a withheld count in it
    baseline = np.array(window, dtype=float)
    sd = max(float(baseline.std(ddof=1)), EARS_MIN_SD)
    return (now - float(baseline.mean())) / sd


def ears_alarms(history: Sequence[int | None]) -> list[str]:
    """For each period of a complete series of counts (no period missing; None for a
    withheld count), the EARS methods that raise an alarm there, comma-separated ('' for
    none; too little history, or a withheld count in it, raises none)."""
    c2 = [_ears_statistic(history, t, guard=2) for t in range(len(history))]
    alarms = []
    for t in range(len(history)):
        raised = []
        c1 = _ears_statistic(history, t, guard=0)
        if c1 is not None and c1 > EARS_THRESHOLD:
            raised.append("C1")
        now = c2[t]
        if now is not None and now > EARS_THRESHOLD:
            raised.append("C2")
        recent = [v for v in c2[max(0, t - 2) : t + 1] if v is not None]
        if t >= 2 and len(recent) == 3 and sum(max(0.0, v - 1.0) for v in recent) > EARS_C3_THRESHOLD:
            raised.append("C3")
        alarms.append(",".join(raised))
    return alarms
