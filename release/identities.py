"""The release service's identities: a name, a role, a country, and the hash of a token.

A token is shown once, when it is made (``thbdb users add``), and only its SHA-256 is
stored: tokens are 256 random bits, so a fast hash is enough (nothing to guess), and a
copy of the store gives nobody a token. The store is a JSON file in the hub's secrets
folder, rewritten whole through a rename under a lock, so it is never half written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from release.access import Identity, Role
from release.files import replace_file

STORE = "users.json"
LOCAL_ADMIN = "local-admin"
LOCAL_ADMIN_TOKEN = "local-admin.token"  # noqa: S105 - a file name
TOKEN_PREFIX = "thb_"  # noqa: S105 - marks a string as a thbdb token


class IdentityError(Exception):
    """An identity cannot be made, found or used; the message says why in one line."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    country: str | None
    token_sha256: str
    created_at: str
    expires_at: str
    revoked_at: str | None = None

    def identity(self) -> Identity:
        return Identity(self.name, Role(self.role), self.country)

    def state(self, now: datetime) -> str:
        if self.revoked_at:
            return "revoked"
        return "expired" if datetime.fromisoformat(self.expires_at) <= now else "active"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read(path: Path) -> dict[str, User]:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return {u["name"]: User(**u) for u in raw["users"]}


def _write(path: Path, users: dict[str, User]) -> None:
    replace_file(path, json.dumps({"users": [asdict(u) for u in users.values()]}, indent=2).encode("utf-8"))


@contextmanager
def _locked(folder: Path) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = os.open(folder / f".{STORE}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder / STORE
    finally:
        os.close(lock)


def add(folder: Path, name: str, role: Role, country: str | None, days: int, replace: bool = False) -> str:
    """Make an identity and return its token (shown once; only its hash is kept)."""
    if role is Role.national and not country:
        raise IdentityError("a national officer needs --country")
    if role in (Role.analyst, Role.admin) and country:
        raise IdentityError(f"role {role.value} is regional: leave out --country")
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise IdentityError("a name is letters, digits, '-', '_' or '.'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with _locked(folder) as path:
        users = _read(path)
        if name in users and not replace and users[name].state(now) == "active":
            raise IdentityError(f"{name} exists: revoke it first (thbdb users revoke {name})")
        users[name] = User(
            name, role.value, country, token_hash(token), now.isoformat(timespec="seconds"),
            (now + timedelta(days=days)).isoformat(timespec="seconds"),
        )  # fmt: skip
        _write(path, users)
    return token


def revoke(folder: Path, name: str) -> User:
    with _locked(folder) as path:
        users = _read(path)
        if name not in users:
            raise IdentityError(f"no identity named {name}")
        if users[name].revoked_at is None:
            users[name] = User(**{**asdict(users[name]), "revoked_at": datetime.now(UTC).isoformat(timespec="seconds")})
            _write(path, users)
        return users[name]


def listed(folder: Path) -> list[User]:
    return sorted(_read(folder / STORE).values(), key=lambda u: u.name)


class Verifier:
    """Tokens to identities, for the service: re-reads the store when it changed."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STORE
        self._seen: tuple[int, int] | None = None
        self._by_hash: dict[str, User] = {}

    def __call__(self, token: str) -> Identity:
        try:
            info = self.path.stat()
            seen = (info.st_mtime_ns, info.st_ino)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:
            self._by_hash = {u.token_sha256: u for u in _read(self.path).values()}
            self._seen = seen
        user = self._by_hash.get(token_hash(token))
        if user is None:
            raise IdentityError("unknown token")
        state = user.state(datetime.now(UTC))
        if state == "revoked":
            raise IdentityError(f"the token of {user.name} was revoked")
        if state == "expired":
            raise IdentityError(f"the token of {user.name} expired on {user.expires_at[:10]}: ask for a new one")
        return user.identity()


def make_local_admin(folder: Path, days: int) -> Path:
    """A fresh local admin token, written owner-only into the hub's secrets folder for
    the CLI on this machine to use when no token is given (``thbdb up`` calls this)."""
    token = add(folder, LOCAL_ADMIN, Role.admin, None, days, replace=True)
    path = folder / LOCAL_ADMIN_TOKEN
    replace_file(path, (token + "\n").encode("ascii"))
    return path
