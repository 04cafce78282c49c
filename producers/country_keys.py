"""Where a country's keys live: ``$THBDB_HOME/country/CC/``, the country's own folder.

It holds the country's pseudonymisation key (``CC.key``) and its copy of the region's
shared linkage key (``linkage.key``), owner only. In a region each producer machine has
just its own folder; in the local stack all six sit side by side, and with accounts on
(thbdb/accounts.py) each belongs to that country's account alone. ``keys/linkage.key``
is the region's copy as the focal point hands it out: the local stack copies it into a
country's folder when that country's key is created.

Homes made before per-country folders kept ``keys/CC.key``: the first use moves it here,
never regenerates it (a new key would give every record a new pseudonym, and every
record would count twice).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from config.settings import Settings
from producers.linkage import KEY_FILE, load_or_create_linkage_key
from producers.pseudonymise import load_or_create_country_key


def migrate(settings: Settings, country: str) -> Path:
    """Move a country's keys from the old shared ``keys/`` folder to its own; the folder."""
    folder = settings.country_keys_dir(country)
    old_key = settings.keys_dir / f"{country}.key"
    if old_key.exists() and not (folder / old_key.name).exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(old_key, folder / old_key.name)
        _copy_linkage_key(settings, folder)
    return folder


def prepare(settings: Settings, country: str, create: bool) -> Path:
    """The country's folder with its keys in place; with ``create`` (the local demo),
    a new country key and the region's linkage key copied in where missing."""
    folder = migrate(settings, country)
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        load_or_create_country_key(folder, country, create=True)
        load_or_create_linkage_key(settings.keys_dir, create=True)
        _copy_linkage_key(settings, folder)
    return folder


def _copy_linkage_key(settings: Settings, folder: Path) -> None:
    region, mine = settings.keys_dir / KEY_FILE, folder / KEY_FILE
    if region.exists() and not mine.exists():
        shutil.copyfile(region, mine)
        mine.chmod(0o600)
