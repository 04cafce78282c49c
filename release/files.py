"""Files the hub replaces whole: written beside, flushed to disk, renamed over the old."""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Make ``path`` hold ``data`` with ``mode``: a reader sees the old file or the new one,
    never half of either, and the mode is set before any byte is written."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken bits away
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def hub_secret(folder: Path, name: str) -> str:
    """A secret of the hub (hex), made once in its secrets folder, owner only; every
    process of the hub reads the same one, whichever made it first."""
    path = folder / name
    try:
        return path.read_text("ascii").strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made meanwhile by another process
        return path.read_text("ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path.read_text("ascii").strip()
