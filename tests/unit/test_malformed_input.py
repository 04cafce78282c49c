"""Property-based: malformed national exports and malformed topic messages end in a
clear refusal, never a crash, and no refusal quotes a planted personal value.

This is the fast, in-process half (reading, checking, pseudonymising, parsing); the
stack half (tests/stack/test_malformed.py) publishes, runs the pipeline and checks what
was quarantined and loaded.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.code_mapping import load_mapping
from producers.national_export import ExportRejected, open_export
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from tests.malformed_inputs import leaked, national_exports, topic_messages
from transforms.events import EventRejected, parse_event

TODAY = date(2026, 11, 25)
FAST = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
TRIED = {"exports": 0, "messages": 0}


@FAST
@given(national_exports("MK"), st.sampled_from(["MK", "RS"]))
def test_a_malformed_export_is_refused_with_reasons_that_quote_nothing(
    case: tuple[str, bytes, str], country: str
) -> None:
    kind, data, _good_id = case
    TRIED["exports"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "victims.csv"
        path.write_bytes(data)
        try:
            _kind, header, rows = open_export(path)
            checker = VictimRowChecker(country, load_mapping(country))
            results = [checker.check(number, header, fields, TODAY) for number, fields in rows]
        except ExportRejected as rejected:
            assert not leaked(str(rejected)), (kind, str(rejected))
            return
    pseudonymiser = Pseudonymiser(country, bytes(range(32)), "0" * 32)
    for result in results:
        if isinstance(result, list):
            for refusal in result:
                assert not leaked(str(refusal)), (kind, str(refusal))
        else:
            event = pseudonymiser.pseudonymise_victim(result)
            assert not leaked(event.to_bytes()), kind
            assert parse_event(event.to_bytes()) == event  # what is published, the pipeline reads


@FAST
@given(topic_messages("AL"))
def test_a_malformed_message_is_rejected_with_a_reason_that_quotes_nothing(case: tuple[str, bytes]) -> None:
    kind, value = case
    TRIED["messages"] += 1
    try:
        parse_event(value)
    except EventRejected as rejected:
        assert rejected.reason and not leaked(rejected.reason), (kind, rejected.reason)
        return
    assert kind == "field", f"a {kind} message was accepted"  # a changed field may still be valid


def test_report_the_number_of_malformed_inputs_tried() -> None:
    print(f"\nMALFORMED unit: {TRIED['exports']} exports and {TRIED['messages']} topic messages tried")
