"""Loopback ports for the stack's servers."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


def _ephemeral_ports() -> range:
    """The ports the kernel gives outgoing connections: a server must not listen there,
    or a client's own connection may hold its port (a connection to a port nobody listens
    on yet can even connect to itself)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of loopback now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nothing listens on now, outside the kernel's ephemeral range."""
    ephemeral = _ephemeral_ports()
    while True:
        port = secrets.choice(range(20_000, ephemeral.start if ephemeral.start > 21_000 else 60_000))
        if port not in ephemeral and is_free(port):
            return port
