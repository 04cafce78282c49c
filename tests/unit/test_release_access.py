"""Who may receive what (release/access.py): the rule of the CLI contract."""

from __future__ import annotations

import re

import pytest

from release import access
from release.access import Identity, Refused, Role

ANALYST = Identity("ana", Role.analyst)
RS = Identity("rs-officer", Role.national, "RS")
ADMIN = Identity("admin", Role.admin)
REGIONAL_DPO = Identity("dpo", Role.dpo)
MK_DPO = Identity("mk-dpo", Role.dpo, "MK")
POLICY = 5


def test_everyone_gets_the_policy_threshold_or_a_higher_one() -> None:
    for who in (ANALYST, RS, ADMIN, REGIONAL_DPO):
        assert access.threshold(who, POLICY, None) == POLICY
        assert access.threshold(who, POLICY, 10) == 10


def test_an_analyst_is_refused_exact_counts_naming_the_role() -> None:
    with pytest.raises(Refused, match=r"^role analyst may not receive exact counts"):
        access.threshold(ANALYST, POLICY, 1)
    with pytest.raises(Refused, match=r"^role dpo"):
        access.threshold(REGIONAL_DPO, POLICY, 4, country="RS")


def test_a_national_officer_gets_exact_counts_of_its_own_country_only() -> None:
    assert access.threshold(RS, POLICY, 1, country="RS") == 1
    with pytest.raises(Refused, match=r"role national \(RS\).*own country only"):
        access.threshold(RS, POLICY, 1, country="MK")
    with pytest.raises(Refused, match=r"role national \(RS\)"):
        access.threshold(RS, POLICY, 1)  # the region: other countries' records


def test_nothing_linkage_derives_is_exact_for_a_national_officer() -> None:
    with pytest.raises(Refused, match="linkage"):
        access.threshold(RS, POLICY, 1, country="RS", linkage=True)
    for dimension in ("route", "trafficking_scope"):
        with pytest.raises(Refused, match="linkage"):
            access.threshold(RS, POLICY, 1, country="RS", dimensions=("year", dimension))
    assert access.threshold(ADMIN, POLICY, 1, linkage=True) == 1


def test_a_threshold_under_one_is_refused() -> None:
    with pytest.raises(Refused):
        access.threshold(ADMIN, POLICY, 0)


def test_quarantine_and_validation_by_country() -> None:
    access.may_read_country(RS, "RS", "quarantine")
    access.may_read_country(ADMIN, "MK", "quarantine")
    access.may_read_country(REGIONAL_DPO, None, "quarantine")
    access.may_read_country(MK_DPO, "MK", "quarantine")
    for who, country in ((RS, "MK"), (MK_DPO, "RS"), (RS, None), (ANALYST, "RS")):
        with pytest.raises(Refused, match="^" + re.escape(str(who))):
            access.may_read_country(who, country, "quarantine")
    assert access.scoped_country(MK_DPO, None) == "MK"
    assert access.scoped_country(REGIONAL_DPO, "RS") == "RS"


def test_reports_audit_exports() -> None:
    for who in (ANALYST, RS):
        with pytest.raises(Refused, match="audit log"):
            access.may_read_audit(who)
        with pytest.raises(Refused, match="disclosure-risk"):
            access.may_read_privacy_report(who)
    access.may_read_audit(MK_DPO)
    assert access.public_k(ANALYST, 11, None) == 11
    assert access.public_k(ADMIN, 11, 3) == 3
    with pytest.raises(Refused, match="role analyst may not export microdata at k = 2"):
        access.public_k(ANALYST, 11, 2)
    assert access.epsilon(ANALYST, 2.0, 1.0) == 1.0
    with pytest.raises(Refused, match="role admin may not spend epsilon 1000"):
        access.epsilon(ADMIN, 2.0, 1000.0)
