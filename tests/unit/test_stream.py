"""The streaming consumer asks Airflow whether it was turned off rarely, and never forgets a yes."""

from __future__ import annotations

from pathlib import Path

from pipeline.stream import _asked_at_most_every


def test_the_stop_question_is_asked_at_most_every_few_seconds_and_a_yes_sticks() -> None:
    now, answers, asked = [0.0], [False, True, False], []

    def ask() -> bool:
        asked.append(now[0])
        return answers[len(asked) - 1]

    stop = _asked_at_most_every(2.0, ask, lambda: now[0])
    for t in (0.0, 0.5, 1.9, 2.0, 3.0, 9.0):
        now[0] = t
        stop()
    assert asked == [0.0, 2.0]  # the second answer said stop: never asked again
    assert stop()


def test_a_window_adds_up_every_counter_a_drain_reports() -> None:
    """Every counter a drain reports has its sum in the window's report (a counter added to
    one and not the other once failed every window after its first batch)."""
    from pipeline.drain import LOAD_COUNTERS, DrainReport
    from pipeline.stream import StreamReport

    window = StreamReport()
    drained = DrainReport(country="XK", **{k: i + 1 for i, k in enumerate(LOAD_COUNTERS)})
    window.add(drained)
    window.add(drained)
    assert {k: getattr(window, k) for k in LOAD_COUNTERS} == {k: 2 * (i + 1) for i, k in enumerate(LOAD_COUNTERS)}


def test_loads_after_the_last_release_are_noticed(tmp_path: Path) -> None:
    """A window that failed between a commit and its refresh: the next one sees the loads
    the current release does not hold, and refreshes."""
    from config.settings import Settings
    from pipeline.drain import loaded_since_release
    from release import snapshot
    from tests.unit.test_linkage import _events
    from warehouse.loader import connect, ensure_schema, load_batch, refresh_marts

    settings = Settings(home=tmp_path)
    assert not loaded_since_release(settings)  # no warehouse yet
    with connect(settings.warehouse) as con:
        ensure_schema(con)
        load_batch(con, _events("RS", "RS-1", "Ana", "Ilic", "1990"))
    assert loaded_since_release(settings)  # loaded, never released
    with connect(settings.warehouse) as con:
        refresh_marts(con)
        snapshot.publish(con, settings)
    assert not loaded_since_release(settings)
    with connect(settings.warehouse) as con:
        load_batch(con, _events("MK", "MK-1", "Ana", "Ilic", "1990"))
    assert loaded_since_release(settings)
