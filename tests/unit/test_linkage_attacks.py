"""The attack harness's quick form (benchmarks/linkage_attacks.py): the published attacks
must decode the v1 control and random hashing alone, and not the current scheme."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.linkage_attacks import CONTROL, CONTROL_AIM, FAMILY_NAME_AIM, FULL_NAME_AIM, main


def test_the_attacks_decode_the_control_and_not_the_current_scheme(tmp_path: Path) -> None:
    out = tmp_path / "attacks.json"
    assert main(["--quick", "--output", str(out)]) == 0  # every aim met, controls included
    report = json.loads(out.read_text())
    controls = [r for name, r in report["results"].items() if name.endswith(CONTROL)]
    current = [r for name, r in report["results"].items() if " / current (" in name]
    assert len(controls) == len(current) == 2  # the quality benchmark's population and the demo's
    assert all(r["any_attack"]["full_name"] >= CONTROL_AIM for r in controls)
    assert all(r["any_attack"]["full_name"] < FULL_NAME_AIM for r in current)
    assert all(r["any_attack"]["family_name"] < FAMILY_NAME_AIM for r in current)
