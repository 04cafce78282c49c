"""Secret key files of a producer: 32 random bytes as hex text, owner-only, never replaced.

The country's pseudonymisation key (producers/pseudonymise.py) and the region's linkage
key (producers/linkage.py) are both kept this way; only what each is for differs. A key
file is never overwritten: a new pseudonymisation key would give every record a new
pseudonym, and each record would count twice.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def read_key(path: Path, invalid: type[Exception], what: str) -> bytes:
    """The key in ``path``; ``invalid`` is raised, naming ``what``, if it holds none."""
    try:
        key = bytes.fromhex(path.read_text("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise invalid(f"{what} does not hold a {KEY_BYTES}-byte key")
    return key


def write_key(path: Path, key: bytes) -> bool:
    """Write ``key`` to ``path``, readable by its owner only; False if the file exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return True


def load_or_create(path: Path, create: bool, invalid: type[Exception], what: str) -> bytes | None:
    """The key in ``path``; with ``create``, a new one made there first if there is none
    (if another push made one a moment ago, that one); None if there is none."""
    if not path.exists():
        if not create:
            return None
        key = new_key()
        if write_key(path, key):
            return key
    return read_key(path, invalid, what)
