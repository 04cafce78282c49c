"""Each country's keys in a folder of its own; old homes' keys moved, never regenerated."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from producers import country_keys
from producers.linkage import load_or_create_linkage_key
from producers.pseudonymise import load_or_create_country_key


def test_keys_of_an_old_home_move_to_the_country_folder_unchanged(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    old_key = load_or_create_country_key(settings.keys_dir, "RS", create=True)
    linkage = load_or_create_linkage_key(settings.keys_dir, create=True)
    folder = country_keys.migrate(settings, "RS")
    assert folder == tmp_path / "country" / "RS"
    assert not (settings.keys_dir / "RS.key").exists()
    assert load_or_create_country_key(folder, "RS", create=False) == old_key
    assert load_or_create_linkage_key(folder, create=False) == linkage
    assert (folder / "RS.key").stat().st_mode & 0o777 == 0o600
    assert (folder / "linkage.key").stat().st_mode & 0o777 == 0o600


def test_a_new_country_gets_its_own_key_and_the_region_s_linkage_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    rs, xk = (country_keys.prepare(settings, c, create=True) for c in ("RS", "XK"))
    assert load_or_create_country_key(rs, "RS", create=False) != load_or_create_country_key(xk, "XK", create=False)
    assert load_or_create_linkage_key(rs, create=False) == load_or_create_linkage_key(xk, create=False)
    assert not (rs / "XK.key").exists() and not (xk / "RS.key").exists()
