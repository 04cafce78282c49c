"""Identities of the release service (release/identities.py): tokens shown once, hashes kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from release import identities
from release.access import Role


def test_a_token_is_shown_once_and_only_its_hash_is_kept(tmp_path: Path) -> None:
    token = identities.add(tmp_path, "ana", Role.analyst, None, days=90)
    stored = (tmp_path / identities.STORE).read_text()
    assert token not in stored and identities.token_hash(token) in stored
    assert stat.S_IMODE((tmp_path / identities.STORE).stat().st_mode) == 0o600
    who = identities.Verifier(tmp_path)(token)
    assert (who.name, who.role, who.country) == ("ana", Role.analyst, None)
    (listed,) = identities.listed(tmp_path)
    assert listed.state(identities.datetime.now(identities.UTC)) == "active"


def test_revoked_expired_and_unknown_tokens_get_nothing(tmp_path: Path) -> None:
    verify = identities.Verifier(tmp_path)
    token = identities.add(tmp_path, "rs", Role.national, "RS", days=90)
    assert verify(token).country == "RS"
    identities.revoke(tmp_path, "rs")
    with pytest.raises(identities.IdentityError, match="rs was revoked"):
        verify(token)
    old = identities.add(tmp_path, "old", Role.dpo, None, days=0)
    with pytest.raises(identities.IdentityError, match="old expired"):
        verify(old)
    with pytest.raises(identities.IdentityError, match="unknown token"):
        verify("thb_" + "x" * 43)


def test_roles_and_countries_must_fit(tmp_path: Path) -> None:
    with pytest.raises(identities.IdentityError, match="needs --country"):
        identities.add(tmp_path, "n", Role.national, None, days=1)
    with pytest.raises(identities.IdentityError, match="regional"):
        identities.add(tmp_path, "a", Role.analyst, "RS", days=1)
    identities.add(tmp_path, "a", Role.analyst, None, days=1)
    with pytest.raises(identities.IdentityError, match="exists"):
        identities.add(tmp_path, "a", Role.analyst, None, days=1)
    with pytest.raises(identities.IdentityError, match="no identity named b"):
        identities.revoke(tmp_path, "b")


def test_the_local_admin_token_is_replaced_at_each_start(tmp_path: Path) -> None:
    first = identities.make_local_admin(tmp_path, days=90).read_text().strip()
    second = identities.make_local_admin(tmp_path, days=90).read_text().strip()
    verify = identities.Verifier(tmp_path)
    assert verify(second).role is Role.admin
    with pytest.raises(identities.IdentityError):
        verify(first)
    assert stat.S_IMODE((tmp_path / identities.LOCAL_ADMIN_TOKEN).stat().st_mode) == 0o600
