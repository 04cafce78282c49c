"""A hub's home for tests of the release service without the stack: the demo's warehouse
(tests/warehouse_builder.py), a release snapshot published from it, and one identity of
each role. The service itself is the real one (release/service.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings, country_topic
from release import identities, snapshot
from release.access import Role
from warehouse.loader import connect, refresh_marts, stored_offsets

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
    _quarantine_some(hub, "RS")
    with connect(hub.warehouse) as con:
        refresh_marts(con)
        snapshot.publish(con, hub, whole=True)
    tokens = {name: identities.add(hub.hub_secrets_dir, name, role, country, days=1)
              for name, role, country in IDENTITIES}  # fmt: skip
    return HubHome(hub, tokens)


def _quarantine_some(hub: Settings, country: str) -> None:
    """A few of ``country``'s events that fail validation, drained after the demo's, so
    that the quarantine pages have entries: a code outside the list, another country's
    event on this topic."""
    from pipeline.drain import drain_country
    from pipeline.sources import MemorySource
    from tests.stack.test_quarantine import _events

    events = _events(country, 3)
    bad = [{**events[0], "sex": "female"}, {**events[1], "country": "XK"}, events[2]]
    with connect(hub.warehouse) as con:
        start = stored_offsets(con, country_topic(country)).get(0, 0)
    padded: list[bytes | None] = [None] * start  # the demo's events, read already
    drain_country(hub, country, source=MemorySource([*padded, *(json.dumps(e).encode() for e in bad)]))
