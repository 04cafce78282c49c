import json

import pytest

from transforms.events import SCHEMA_PATH, EventRejected, json_schema, parse_event


def test_published_json_schema_matches_the_code() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(json_schema())), "run `make schema`"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"schema_version": 2}', "unsupported schema_version"),
        (b'{"schema_version": 1, "given_name": "Jovana"}', "schema:"),
        (b"{" + b" " * 70_000 + b"}", "too large"),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason_and_no_value(payload: bytes, reason: str) -> None:
    with pytest.raises(EventRejected) as caught:
        parse_event(payload)
    assert reason in caught.value.reason
    assert "Jovana" not in caught.value.reason
