"""The streaming consumer asks Airflow whether it was turned off rarely, and never forgets a yes."""

from __future__ import annotations

from thbdb.stream import _asked_at_most_every


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
