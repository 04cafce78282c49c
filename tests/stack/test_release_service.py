"""The release service on the real stack: tokens and roles checked by the service, the
quarantine view per country, the audit log, and snapshots switched whole during a load."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from producers.demo_exports import write_demo_exports
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import THBDB, Stack

pytestmark = pytest.mark.stack


def _as(stack: Stack, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return stack.thbdb(*args, token=token, check=False, timeout=300)


def _user(stack: Stack, name: str, role: str, country: str | None = None) -> str:
    made = stack.thbdb("users", "add", name, "--role", role, *(["--country", country] if country else []))
    return made.stdout.splitlines()[-1]


def _refused(result: subprocess.CompletedProcess[str], role: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and role in lines[0], result.stderr


@pytest.fixture(scope="module")
def loaded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """Two countries' months pushed and run, so that there is something to count."""
    exports = write_demo_exports(tmp_path_factory.mktemp("release-exports"), seed=23)
    for country in ("RS", "MK"):
        for path in exports[country][:3]:
            stack.thbdb("produce", "--country", country, "--input", str(path), "--create-key", check=False)
    stack.thbdb("run")
    return stack


def test_roles_are_checked_by_the_service(loaded: Stack) -> None:
    analyst = _user(loaded, "release-analyst", "analyst")
    rs = _user(loaded, "release-rs", "national", "RS")

    protected = _as(loaded, analyst, "query", "counts", "--by", "country", "--format", "csv")
    assert protected.returncode == 0, protected.stderr
    cells = list(csv.DictReader(io.StringIO(protected.stdout)))
    assert cells and all(c["suppressed"] == "true" or int(c["victims"]) >= 5 for c in cells)
    _refused(_as(loaded, analyst, "query", "counts", "--by", "sex", "--country", "RS", "--min-cell", "1"), "analyst")
    _refused(_as(loaded, analyst, "export", "--format", "htcds", "--k", "2", "--out", "x.csv"), "analyst")
    _refused(_as(loaded, analyst, "export", "--format", "dp-synthetic", "--epsilon", "1000", "--out", "x"), "analyst")
    _refused(_as(loaded, analyst, "report", "privacy"), "analyst")

    exact = _as(loaded, rs, "query", "counts", "--by", "sex", "--country", "RS", "--min-cell", "1", "--format", "csv")
    assert exact.returncode == 0, exact.stderr
    admin = loaded.thbdb("query", "counts", "--by", "sex", "--country", "RS", "--min-cell", "1", "--format", "csv")
    assert exact.stdout == admin.stdout  # the national officer's exact counts are the admin's
    _refused(_as(loaded, rs, "query", "counts", "--by", "sex", "--country", "MK", "--min-cell", "1"), "national (RS)")
    _refused(_as(loaded, rs, "query", "links", "--country", "RS", "--min-cell", "1"), "national (RS)")

    loaded.thbdb("users", "revoke", "release-rs")
    revoked = _as(loaded, rs, "query", "counts", "--by", "sex", "--country", "RS")
    assert revoked.returncode == 2 and "revoked" in revoked.stderr and revoked.stdout == ""
    listed = loaded.thbdb("users", "list", "--format", "csv").stdout
    assert "release-rs,national,RS,revoked" in listed and rs not in listed
    unknown = _as(loaded, "thb_not-a-token", "query", "counts", "--by", "sex")
    assert unknown.returncode == 2 and "unknown token" in unknown.stderr


def test_the_quarantine_view_is_the_countrys_own(loaded: Stack) -> None:
    rs = _user(loaded, "quarantine-rs", "national", "RS")
    own = _as(loaded, rs, "quarantine", "--country", "RS", "--all", "--format", "json")
    assert own.returncode == 0, own.stderr
    assert isinstance(json.loads(own.stdout), list)
    _refused(_as(loaded, rs, "quarantine", "--country", "MK"), "national (RS)")
    analyst = _user(loaded, "quarantine-analyst", "analyst")
    _refused(_as(loaded, analyst, "quarantine", "--country", "RS"), "analyst")


def test_every_request_is_in_the_audit_log(loaded: Stack) -> None:
    analyst = _user(loaded, "audited-analyst", "analyst")
    asked = [
        ("query", "counts", "--by", "year"),
        ("query", "counts", "--by", "year", "--min-cell", "1"),
        ("query", "trends", "--dimension", "sex"),
        ("query", "perpetrators", "--by", "year"),
        ("report", "analysis", "--out", "/dev/null"),
    ]
    for args in asked:
        _as(loaded, analyst, *args)
    dpo = _user(loaded, "audit-dpo", "dpo")
    entries = json.loads(_as(loaded, dpo, "audit", "--last", "500", "--format", "json").stdout)
    mine = [e for e in entries if e["who"] == "audited-analyst"]
    assert [e["operation"] for e in mine] == ["query/counts"] * 2 + ["query/trends", "query/perpetrators",
                                                                      "report/analysis"]  # fmt: skip
    assert [e["outcome"] for e in mine] == ["answered", "refused", "answered", "answered", "answered"]
    assert all(isinstance(e["withheld"], int) for e in mine if e["outcome"] == "answered")
    text = json.dumps(entries)
    # No count and no pseudonym: no "victims" key (an erasure's "kind": "victims" may be there).
    assert '"victims":' not in text and "record_ref" not in text
    _refused(_as(loaded, analyst, "audit"), "analyst")


def _rs_total(stack: Stack) -> int:
    answer = stack.thbdb("query", "counts", "--by", "country", "--country", "RS", "--min-cell", "1", "--format", "json")
    (cell,) = json.loads(answer.stdout)
    return int(cell["victims"])


def test_a_query_during_a_load_sees_the_previous_release_whole(loaded: Stack, tmp_path: Path) -> None:
    before = _rs_total(loaded)
    exports = write_demo_exports(tmp_path, seed=23)
    for path in exports["RS"][3:9]:
        loaded.thbdb("produce", "--country", "RS", "--input", str(path), "--create-key", check=False)
    running = subprocess.Popen([THBDB, "run"], env=loaded.env, cwd=loaded.settings.home,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen = []
    while running.poll() is None:
        seen.append(_rs_total(loaded))
        time.sleep(0.5)
    assert running.returncode == 0, running.stderr.read() if running.stderr else ""
    after = _rs_total(loaded)
    assert after > before
    assert seen and seen[0] == before
    assert set(seen) <= {before, after}, seen  # one release or the next, never a state between


def test_the_ledger_refuses_a_release_beyond_the_years_budget(loaded: Stack, tmp_path: Path) -> None:
    from disclosure.policy import load_policy
    from release import ledger

    policy = load_policy()
    year = ledger.datetime.now(ledger.UTC).year
    releases = 0
    while ledger.spent(loaded.settings.audit_dir, year) + policy.epsilon_cap <= policy.epsilon_per_year:
        loaded.thbdb("export", "--format", "dp-synthetic", "--epsilon", str(policy.epsilon_cap),
                     "--out", str(tmp_path / f"synthetic-{releases}.csv"))  # fmt: skip
        releases += 1
    assert releases >= 1
    _refused(
        loaded.thbdb("export", "--format", "dp-synthetic", "--epsilon", str(policy.epsilon_cap), "--out",
                     str(tmp_path / "over.csv"), check=False),
        "past its budget",
    )  # fmt: skip
    assert not (tmp_path / "over.csv").exists()
    entries = json.loads(loaded.thbdb("audit", "--last", "100", "--format", "json").stdout)
    spent = [e["epsilon"] for e in entries if e["operation"] == "export" and e.get("epsilon")]
    assert spent[-releases:] == [policy.epsilon_cap] * releases


def test_an_estimate_from_a_single_list_is_refused_with_the_reason(loaded: Stack, tmp_path: Path) -> None:
    # Albania's records all name the police alone: one list, nothing to estimate from.
    profiles = [
        VictimProfile(f"AL-{i}", date(2024, 1 + i % 12, 3), "F", 20 + i % 30, "AL", ["sexual"], recorded_by=["police"])
        for i in range(40)
    ]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("AL", profiles, seed=5))
    loaded.thbdb("produce", "--country", "AL", "--input", str(export), "--create-key", check=False)
    loaded.thbdb("run")
    refused = loaded.thbdb("query", "estimate", "--country", "AL", "--format", "json", check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, refused.stderr
    assert "no estimate for AL" in lines[0] and "1 list of agencies (police)" in lines[0]
    assert "at least three" in lines[0] and refused.stdout == ""
