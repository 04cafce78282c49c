"""A hub's home for tests of the release service without the stack: the demo's warehouse
(tests/warehouse_builder.py), a release snapshot published from it, and one identity of
each role. The service itself is the real one (release/service.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from release import identities, snapshot
from release.access import Role
from warehouse.loader import connect

# (name, role, country) of the identities made for the tests.
IDENTITIES = (
    ("ana", Role.analyst, None),
    ("rs-officer", Role.national, "RS"),
    ("dpo", Role.dpo, None),
    ("admin", Role.admin, None),
)


@dataclass
class HubHome:
    settings: Settings
    tokens: dict[str, str]  # by identity name


def make_hub_home(demo_warehouse: Path, home: Path, **settings: object) -> HubHome:
    hub = Settings(home=home, **settings)  # type: ignore[arg-type]
    hub.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_warehouse, hub.warehouse)
    with connect(hub.warehouse) as con:
        snapshot.publish(con, hub, whole=True)
    tokens = {name: identities.add(hub.hub_secrets_dir, name, role, country, days=1)
              for name, role, country in IDENTITIES}  # fmt: skip
    return HubHome(hub, tokens)
