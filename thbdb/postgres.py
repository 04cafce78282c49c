"""PostgreSQL as Airflow's metadata database in the cluster profile (`thbdb up --cluster`).

Debian's server (``make setup`` installs the postgresql package when it is absent),
with its data under ``$THBDB_HOME/postgres``, listening on loopback only, password
authentication (SCRAM) for every TCP connection. PostgreSQL refuses to run as root: when
root starts the stack, the server runs as its own account, ``thbdb-postgres``, which owns
the data folder and nothing else. The password of its one role, ``airflow``, is a file
of the hub's (``hub-secrets/postgres.password``), and Airflow reads the connection URL
from ``hub-secrets/airflow_db_url``, as the deployed form reads its secret.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
from functools import partial
from pathlib import Path

from config.settings import Settings
from thbdb import accounts, secret_files
from thbdb.processes import running_pid, start_process, stop_process, wait_until_answering

PROCESS = "postgres"
ACCOUNT = "thbdb-postgres"
ROLE = DATABASE = "airflow"


class PostgresError(RuntimeError):
    pass


def _bin(tool: str) -> str:
    """A server tool: Debian keeps them under /usr/lib/postgresql/<version>/bin, off PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return found[-1]
    on_path = shutil.which(tool)
    if on_path is None:
        raise PostgresError("PostgreSQL's server is not installed: run `make setup` (it installs Debian's postgresql)")
    return on_path


def folder(settings: Settings) -> Path:
    return settings.home / "postgres"


def password(settings: Settings) -> str:
    return secret_files.password(settings.hub_secrets_dir / "postgres.password")


def url(settings: Settings) -> str:
    layout = settings.cluster_layout
    assert layout is not None
    return f"postgresql+psycopg2://{ROLE}:{password(settings)}@127.0.0.1:{layout.postgres_port}/{DATABASE}"


def _account() -> accounts.Account | None:
    """The server's own account when root starts it (PostgreSQL refuses root), else None."""
    return accounts.ensure(ACCOUNT) if os.geteuid() == 0 else None


def start(settings: Settings, wait: float = 60.0) -> bool:
    """Initialise the data folder once, start the server if it is not running, and make
    Airflow's database. True if started."""
    layout = settings.cluster_layout
    assert layout is not None, "PostgreSQL runs in the cluster profile only"
    if running_pid(settings.run_dir, PROCESS):
        return False
    account = _account()
    base = folder(settings)
    data = base / "data"
    if account is not None:
        blocked = accounts.reachable_by(settings.home, account)
        if blocked is not None:
            raise PostgresError(
                f"PostgreSQL's account {ACCOUNT} cannot reach THBDB_HOME ({settings.home}): {blocked} lets no"
                " other account through. Put THBDB_HOME under a folder others may pass (such as /tmp or /srv)"
            )
        settings.home.chmod(settings.home.stat().st_mode | 0o011)  # passable, not listable
    accounts.own(base, account)
    if not (data / "PG_VERSION").exists():
        _initdb(settings, base, data, account)
    start_process(
        settings.run_dir,
        settings.logs_dir,
        PROCESS,
        [
            _bin("postgres"),
            "-D", str(data),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={layout.postgres_port}",
            "-c", f"unix_socket_directories={base}",
            "-c", "max_connections=200",
        ],
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        account=account,
    )  # fmt: skip
    if wait:
        wait_until_ready(settings, wait)
        _ensure_database(settings)
    return True


def _initdb(settings: Settings, base: Path, data: Path, account: accounts.Account | None) -> None:
    # initdb reads the role's password from a file the server's account may open; it is
    # removed at once (the hub's copy stays in hub-secrets/).
    pwfile = base / "initial-password"
    descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password(settings) + "\n")
    if account is not None:
        os.chown(pwfile, account.uid, account.gid)
    try:
        result = subprocess.run(
            [_bin("initdb"), "-D", str(data), "-U", ROLE, "--pwfile", str(pwfile), "--auth-host=scram-sha-256",
             "--auth-local=scram-sha-256", "--encoding=UTF8", "--no-locale"],
            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            **(account.popen() if account else {}),
        )  # fmt: skip
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise PostgresError(f"initdb failed: {result.stderr[-1500:]}")


def _connect(settings: Settings, database: str = DATABASE):  # type: ignore[no-untyped-def]
    import psycopg2

    layout = settings.cluster_layout
    assert layout is not None
    return psycopg2.connect(
        host="127.0.0.1",
        port=layout.postgres_port,
        user=ROLE,
        password=password(settings),
        dbname=database,
        connect_timeout=3,
    )


def is_ready(settings: Settings) -> bool:
    try:
        _connect(settings, "postgres").close()
    except Exception:  # noqa: BLE001 - any failure means "not answering yet"
        return False
    return True


def wait_until_ready(settings: Settings, timeout: float) -> None:
    wait_until_answering(
        partial(is_ready, settings), settings.run_dir, settings.logs_dir, PROCESS, "PostgreSQL", timeout
    )


def _ensure_database(settings: Settings) -> None:
    con = _connect(settings, "postgres")
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    finally:
        con.close()


def stop(settings: Settings) -> bool:
    # SIGINT is PostgreSQL's fast shutdown: SIGTERM would wait for every client to leave.
    return stop_process(settings.run_dir, PROCESS, timeout=60, first_signal=signal.SIGINT)
