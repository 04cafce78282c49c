"""The privacy-loss ledger (release/ledger.py): releases add up, and the year's budget holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from release import ledger


def test_releases_beyond_the_years_budget_are_refused(tmp_path: Path) -> None:
    for _ in range(3):
        with ledger.spending(tmp_path, 2.0, budget=6.0, who="ana"):
            pass
    with pytest.raises(ledger.OverBudget, match="6 spent, 0 left"), ledger.spending(tmp_path, 0.5, 6.0, "ana"):
        raise AssertionError("the release must not be made")
    assert ledger.spent(tmp_path, ledger.datetime.now(ledger.UTC).year) == 6.0


def test_a_release_that_failed_spends_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ledger.spending(tmp_path, 2.0, budget=6.0, who="ana"):
        raise RuntimeError("the export failed")
    assert ledger.spent(tmp_path, ledger.datetime.now(ledger.UTC).year) == 0.0


def test_the_ledger_is_the_hubs_alone(tmp_path: Path) -> None:
    with ledger.spending(tmp_path, 1.0, budget=6.0, who="ana"):
        pass
    assert (tmp_path / ledger.LEDGER).stat().st_mode & 0o077 == 0
