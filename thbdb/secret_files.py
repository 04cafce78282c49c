"""Secrets the stack makes for itself: random, written once, owner-only (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def made_once(path: Path, text: str) -> Path:
    """``path`` holding ``text`` (0600) if it did not exist; never replaced afterwards."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
    return path


def password(path: Path) -> str:
    """The random password kept at ``path``, made on first use (URL-safe: it goes into URLs)."""
    return made_once(path, secrets.token_urlsafe(24) + "\n").read_text().strip()
