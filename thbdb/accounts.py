"""Operating-system accounts: the hub's and each country's, so that file modes, and not
goodwill, keep a country's keys away from the hub and from the other countries.

The local stack runs every role on one machine. Started by root (as these machines and
CI do, and root ignores file modes), unless ``THBDB_ACCOUNTS=off``, it runs:

- the hub's processes (the Kafka broker, Airflow and its tasks, and the hub-side
  commands: run, stream, query, report, export, check-table) as ``thbdb-hub``, which owns
  the hub's state (``kafka/``, ``airflow/``, ``warehouse/``, ``gx/``, ``reports/``,
  ``exports/``, ``logs/``, ``run/``, ``hub-secrets/``; mode 0700) and can open no key;
- ``thbdb produce --country CC`` as ``thbdb-cc``, after the export was opened as the user
  who ran it: it owns ``country/CC/`` (the country key, its copy of the region's
  linkage key, its broker password; 0700/0600) and can open no other country's folder.

``keys/`` (the region's linkage key as handed out, broker credentials) stays root's.
Accounts are created when absent (system accounts, no login, no home). Not root, or
with accounts off, one user does everything and the modes still keep others out.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.settings import Settings

HUB = "thbdb-hub"


class AccountError(RuntimeError):
    """An account could not be created or taken on."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    def popen(self) -> dict[str, Any]:
        """Keyword arguments that make subprocess run a command as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "umask": 0o077}


def country_account(country: str) -> str:
    return f"thbdb-{country.lower()}"


def enforced(enabled: bool) -> bool:
    """Whether accounts are taken on: asked for, and root (only root can)."""
    return enabled and os.geteuid() == 0


def ensure(name: str) -> Account:
    """The account ``name``, created as a system account without login if absent."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise AccountError(f"could not create the account {name}: {result.stderr.strip()}") from None
        entry = pwd.getpwnam(name)
    return Account(name, entry.pw_uid, entry.pw_gid)


def become(account: Account) -> None:
    """Take on ``account`` for the rest of this process (irreversibly), owner-only files."""
    os.setgroups([])
    os.setgid(account.gid)
    os.setuid(account.uid)
    os.umask(0o077)
    os.environ["HOME"] = "/nonexistent"  # nothing of root's is read from ~


def own(path: Path, account: Account | None, mode: int = 0o700) -> None:
    """Make ``path`` (created if absent) and everything under it ``account``'s, the
    folder itself ``mode``; files keep their own modes minus group and other bits."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if account is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, account.uid, account.gid)
        for name in dirs + files:
            entry = Path(root) / name
            if entry.is_symlink():
                continue
            os.chown(entry, account.uid, account.gid)
            entry.chmod(entry.stat().st_mode & 0o700)


def reachable_by(path: Path, account: Account) -> Path | None:
    """The first folder on the way to ``path`` that ``account`` may not pass, or None."""
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            break
        info = folder.stat()
        if info.st_uid == account.uid:
            passes = info.st_mode & 0o100
        elif info.st_gid == account.gid:
            passes = info.st_mode & 0o010
        else:
            passes = info.st_mode & 0o001
        if not passes:
            return folder
    return None


def hub_for(settings: Settings) -> Account | None:
    """With accounts on: the hub's account, owning the hub's folders (created if absent)
    and nothing else; the home passable, the keys root's. None with accounts off."""
    if not enforced(settings.accounts):
        return None
    hub = ensure(HUB)
    code = Path(__file__).resolve().parents[1]  # the checkout: its venv, its DAGs
    for what, path in (("THBDB_HOME", settings.home.parent), ("the checkout", code)):
        blocked = reachable_by(path, hub)
        if blocked is not None:
            raise AccountError(
                f"the hub's account {HUB} cannot reach {what} ({path}): {blocked} lets no other account"
                f" through. Put it under a folder others may pass, or run with THBDB_ACCOUNTS=off"
            )
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.home.chmod(0o711)  # passable, not listable
    for folder in settings.hub_dirs:
        own(folder, hub)
    for folder in (settings.keys_dir, settings.home / "country"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 0, 0)
    settings.keys_dir.chmod(0o700)
    (settings.home / "country").chmod(0o711)
    return hub


def country_for(settings: Settings, country: str, folder: Path) -> Account | None:
    """With accounts on: the country's account, owning its key folder. None with them off."""
    if not enforced(settings.accounts):
        return None
    account = ensure(country_account(country))
    blocked = reachable_by(folder.parent, account)
    if blocked is not None:
        raise AccountError(
            f"{account.name} cannot reach its key folder {folder}: {blocked} lets no other account through."
            " Put THBDB_HOME under a folder others may pass, or run with THBDB_ACCOUNTS=off"
        )
    own(folder, account)
    return account
