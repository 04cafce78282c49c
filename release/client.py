"""The CLI's side of the release service: one authenticated HTTPS call per command.

The hub is the local one (``thbdb up``) unless ``THBDB_HUB_URL`` names another; it is
trusted through the CA certificate at ``THBDB_HUB_CA`` (by default the one ``thbdb up``
published under the home). The token comes from ``--token`` or ``THBDB_TOKEN``; without
one, on the local hub, from the local admin token ``thbdb up`` wrote in the hub's
secrets folder (readable by the hub's account and root only).
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import httpx

from config.settings import Settings
from release import identities, tls


class HubError(Exception):
    """The hub refused or could not answer; the message says why in one line."""


def _token(settings: Settings, token: str | None) -> str:
    if token:
        return token.strip()
    if settings.external_hub_url is None:
        try:
            return (settings.hub_secrets_dir / identities.LOCAL_ADMIN_TOKEN).read_text("ascii").strip()
        except FileNotFoundError:
            pass
        except PermissionError:
            raise HubError("no token: pass --token or set THBDB_TOKEN (the hub's administrator makes one)") from None
    raise HubError("no token: pass --token or set THBDB_TOKEN (`thbdb users add` on the hub makes one)")


def _trust(settings: Settings) -> ssl.SSLContext:
    candidates = [settings.hub_ca_file]
    if settings.hub_ca is None and settings.external_hub_url is None:
        candidates.append(settings.hub_secrets_dir / tls.CA_CERT)
    for path in candidates:
        try:
            return ssl.create_default_context(cafile=str(path))
        except (FileNotFoundError, PermissionError):
            continue
    raise HubError(
        f"no CA certificate for the hub at {settings.hub_ca_file}: set THBDB_HUB_CA to the hub-ca.pem"
        " its administrator gave you (README, Release service)"
    )


def ask(settings: Settings, operation: str, body: dict[str, Any], token: str | None, timeout: float = 600) -> Any:
    """POST ``body`` to the operation; the JSON answer, or HubError with the hub's reason."""
    url = f"{settings.hub_url}/v1/{operation}"
    headers = {"Authorization": f"Bearer {_token(settings, token)}"}
    try:
        response = httpx.post(url, json=body, headers=headers, verify=_trust(settings), timeout=timeout)
    except httpx.ConnectError as error:
        cause = str(error) if "certificate" in str(error).lower() else "nothing answers there"
        raise HubError(f"the release service at {settings.hub_url} cannot be reached ({cause}): `thbdb up`") from None
    except httpx.HTTPError as error:
        raise HubError(f"the release service at {settings.hub_url} failed: {error}") from None
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        if not isinstance(detail, str):
            detail = str(detail)
        raise HubError(detail.splitlines()[0] if detail else f"HTTP {response.status_code}")
    return response.json()


def files(answer: dict[str, Any]) -> dict[str, bytes]:
    """The files an answer carries (reports, exports), by name."""
    return {name: base64.b64decode(data) for name, data in answer.get("files", {}).items()}


def write_files(answer: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files(answer).items():
        path = folder / Path(name).name  # a name, never a path the hub chose
        path.write_bytes(data)
        written.append(path)
    return written
