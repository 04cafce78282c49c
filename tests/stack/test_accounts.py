"""Accounts enforced by the operating system (THBDB_ACCOUNTS=on, started by root): the
broker runs as the hub's account, `thbdb produce --country CC` as CC's, and file modes
keep every key from the hub and from the other countries.

The stack here (broker and Airflow) is started under its own home and ports through the
same functions `thbdb up` calls, so it runs beside the session's stack (which keeps
accounts off: its tests play the hub in their own process, as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from config.settings import Settings
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from release import snapshot
from tests.conftest import THBDB
from thbdb import accounts, airflow_stack, kafka_broker
from thbdb import release_process as release_service
from thbdb.processes import running_pid
from thbdb.stack import free_port as _free_port

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(os.geteuid() != 0, reason="accounts are taken on by root only"),
]


@pytest.fixture(scope="module")
def home() -> Iterator[Settings]:
    blocked = accounts.reachable_by(Path(__file__).resolve().parents[2], accounts.ensure(accounts.HUB))
    if blocked is not None:
        pytest.skip(f"the hub's account cannot reach this checkout: {blocked} is closed to others")
    # Under /tmp, which every account may pass (pytest's own folder is root's alone).
    folder = Path(tempfile.mkdtemp(prefix="thbdb-accounts-", dir="/tmp"))
    settings = Settings(
        home=folder,
        kafka_port=_free_port(),
        kafka_controller_port=_free_port(),
        airflow_port=_free_port(),
        hub_port=_free_port(),
        accounts=True,
    )
    try:
        kafka_broker.start_broker(settings, timeout=180)
        kafka_broker.ensure_topics(settings)
        airflow_stack.start_airflow(settings, timeout=400)
        release_service.start_service(settings)
        yield settings
    finally:
        release_service.stop_service(settings)
        airflow_stack.stop_airflow(settings)
        kafka_broker.stop_broker(settings)
        shutil.rmtree(folder, ignore_errors=True)


def _thbdb(
    settings: Settings, *args: str, account: accounts.Account | None = None, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THBDB_", "AIRFLOW"))}
    env.update({**settings.to_env(), "COLUMNS": "200"})
    if token:
        env["THBDB_TOKEN"] = token
    as_account = {**account.popen(), "cwd": "/tmp"} if account else {}
    return subprocess.run([THBDB, *args], env=env, capture_output=True, text=True, timeout=600, **as_account)


def _produce(settings: Settings, country: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    profile = VictimProfile(f"{country}-A-1", date(2019, 3, 4), "F", 22, "RS", ["sexual"])
    export = write_victims_csv(tmp_path / f"{country}.csv", victim_rows(country, [profile], seed=5))
    export.chmod(0o600)  # root's alone: read before the push takes on the country's account
    return _thbdb(settings, "produce", "--country", country, "--input", str(export), "--create-key")


def _opens(account: accounts.Account, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"open({str(path)!r}, 'rb').read()"], capture_output=True, text=True,
        **account.popen(),
    )  # fmt: skip


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_the_hub_and_each_country_run_as_their_own_accounts(home: Settings, tmp_path: Path) -> None:
    hub = accounts.ensure(accounts.HUB)
    for process in (kafka_broker.PROCESS, *airflow_stack.PROCESSES, release_service.PROCESS):
        pid = running_pid(home.run_dir, process)
        assert pid is not None and _uid_of(pid) == hub.uid, process
    for folder in home.hub_dirs:
        assert folder.stat().st_uid == hub.uid and folder.stat().st_mode & 0o077 == 0, folder

    for country in ("RS", "XK"):
        pushed = _produce(home, country, tmp_path)
        assert pushed.returncode == 0, pushed.stderr
        assert "1 rows published" in pushed.stdout

    rs, xk = accounts.ensure("thbdb-rs"), accounts.ensure("thbdb-xk")
    rs_keys, xk_keys = home.country_keys_dir("RS"), home.country_keys_dir("XK")
    assert rs_keys.stat().st_uid == rs.uid and rs_keys.stat().st_mode & 0o777 == 0o700
    assert (rs_keys / "RS.key").stat().st_uid == rs.uid and xk_keys.stat().st_uid == xk.uid
    key_files = [rs_keys / "RS.key", rs_keys / "linkage.key", xk_keys / "XK.key", home.keys_dir / "linkage.key"]

    # The hub's account can open no key: not a country's, not the region's linkage key.
    for path in key_files:
        refused = _opens(hub, path)
        assert refused.returncode != 0 and "PermissionError" in refused.stderr, path
    # A country opens its own keys and not another's.
    assert _opens(rs, rs_keys / "RS.key").returncode == 0
    assert _opens(rs, rs_keys / "linkage.key").returncode == 0
    refused = _opens(rs, xk_keys / "XK.key")
    assert refused.returncode != 0 and "PermissionError" in refused.stderr

    # The pipeline and the analysts' commands run as the hub: it loads, links and counts.
    ran = _thbdb(home, "run")
    assert ran.returncode == 0 and "succeeded" in ran.stdout, ran.stdout + ran.stderr
    counted = _thbdb(home, "query", "counts", "--by", "country", "--min-cell", "1", "--format", "csv")
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[1:3] == ["RS,1,false", "XK,1,false"]

    # Everything the hub wrote is its own and nobody else's: no group or other bits. A
    # country, which holds the linkage key, cannot open the filters in the linkage store,
    # and neither it nor an ordinary account on the machine (an analyst's) can open the
    # warehouse or a release snapshot.
    stores = [home.warehouse, home.warehouse.with_name(home.warehouse.stem + ".linkage.duckdb"), snapshot.current(home)]
    assert all(p.exists() for p in stores)
    ordinary = accounts.ensure("thbdb-test-analyst")
    for account in (rs, ordinary):
        for path in stores:
            refused = _opens(account, path)
            assert refused.returncode != 0 and "PermissionError" in refused.stderr, (account.name, path)
    _hub_owns_all_it_wrote(home)


def _hub_owns_all_it_wrote(home: Settings) -> None:
    hub = accounts.ensure(accounts.HUB)
    for folder in home.hub_dirs:
        for path in [folder, *folder.rglob("*")]:
            if path.is_symlink():
                continue
            info = path.stat()
            assert info.st_uid == hub.uid, path
            assert info.st_mode & 0o077 == 0, f"{path} is {oct(info.st_mode & 0o777)}"


def test_an_ordinary_account_reads_through_the_release_service_only(home: Settings) -> None:
    """The analyst on the same machine: no file of the hub opens, and the service answers
    what the analyst's role may have, trusted through the published CA certificate."""
    ordinary = accounts.ensure("thbdb-test-analyst")
    made = _thbdb(home, "users", "add", "ana", "--role", "analyst")
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[-1]
    assert (home.home / "hub-ca.pem").stat().st_mode & 0o777 == 0o644
    without = _thbdb(home, "query", "counts", "--by", "country", account=ordinary)
    assert without.returncode == 2 and "no token" in without.stderr
    counted = _thbdb(home, "query", "counts", "--by", "country", "--format", "csv", account=ordinary, token=token)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[0] == "country,victims,suppressed"
    exact = _thbdb(home, "query", "counts", "--by", "country", "--min-cell", "1", account=ordinary, token=token)
    assert exact.returncode == 2 and "role analyst" in exact.stderr


def test_an_erasure_runs_as_the_hub_and_leaves_its_files_its_own(home: Settings, tmp_path: Path) -> None:
    """`thbdb erase` reads the country's key as the operator; the service, as the hub,
    deletes, rewrites the warehouse's files and trims the topic: all of it stays the hub's."""
    order = tmp_path / "order.csv"
    order.write_text("record_id\nRS-A-1\n", encoding="utf-8")
    erased = _thbdb(home, "erase", "--country", "RS", "--records", str(order), "--yes")
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert "1 of 1 records found and erased" in erased.stdout
    counted = _thbdb(home, "query", "counts", "--by", "country", "--min-cell", "1", "--format", "csv")
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[1:2] == ["XK,1,false"]
    _hub_owns_all_it_wrote(home)
