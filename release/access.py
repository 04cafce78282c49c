"""Who may receive what: the rule of ../shared/contracts/cli.md, checked by the service.

Every output is protected by default: cells under the policy's threshold withheld (and
those that would let one be recovered from a total). Exact counts (``--min-cell`` below
the threshold) go to the regional administrator, and to a national officer for its own
country's records only, never for what linkage across countries derives. Anything else
a role asks for and may not have is refused with one line that names the role.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    analyst = "analyst"  # regional analysts: protected outputs only
    national = "national"  # a country's officer: exact counts of its own records, its quarantine
    dpo = "dpo"  # data-protection officer: reports, audit log; of one country or the region
    admin = "admin"  # the hub's administrator: everything, exact


@dataclass(frozen=True)
class Identity:
    name: str
    role: Role
    country: str | None = None  # national officers always; a national dpo

    def __str__(self) -> str:
        return f"role {self.role.value}" + (f" ({self.country})" if self.country else "")


class Refused(Exception):
    """The identity may not have what it asked for; the message names the role."""


# Outputs that linkage across countries derives: never exact for a national officer.
LINKAGE_DIMENSIONS = frozenset({"route", "trafficking_scope"})


def threshold(
    who: Identity,
    policy_min_cell: int,
    asked: int | None,
    country: str | None = None,
    dimensions: tuple[str, ...] = (),
    linkage: bool = False,
) -> int:
    """The suppression threshold an answer is computed with.

    ``asked`` at or above the policy's threshold only protects more, and anyone may ask
    for it; below it means exact counts, for those entitled only."""
    if asked is None or asked >= policy_min_cell:
        return max(asked or policy_min_cell, policy_min_cell)
    if asked < 1:
        raise Refused("--min-cell must be at least 1 (1 turns suppression off)")
    if who.role is Role.admin:
        return asked
    if who.role is Role.national:
        if linkage or LINKAGE_DIMENSIONS & set(dimensions):
            raise Refused(f"{who} may not receive exact counts of what linkage across countries derives")
        if country != who.country:
            raise Refused(f"{who} may receive exact counts of its own country only: add --country {who.country}")
        return asked
    raise Refused(f"{who} may not receive exact counts (--min-cell {asked} is below the policy's {policy_min_cell})")


def exact_estimate(who: Identity, country: str) -> bool:
    """Whether an estimate of ``country`` goes out exact (its observed count, unrounded
    figures): for those entitled to its exact counts; the others get them protected."""
    return who.role is Role.admin or (who.role is Role.national and who.country == country)


def may_read_country(who: Identity, country: str | None, what: str) -> None:
    """Quarantine and validation of ``country`` (None: every country)."""
    if who.role is Role.admin or (who.role is Role.dpo and who.country is None):
        return
    if who.role in (Role.national, Role.dpo) and country is not None and country == who.country:
        return
    if who.role in (Role.national, Role.dpo):
        raise Refused(f"{who} may read the {what} of {who.country} only")
    raise Refused(f"{who} may not read the {what}")


def scoped_country(who: Identity, country: str | None) -> str | None:
    """The country a validation report is limited to: the role's own when it has one."""
    return who.country if who.role in (Role.national, Role.dpo) and who.country else country


def may_erase(who: Identity, country: str) -> None:
    """Erasure of ``country``'s records: its national officers, and the hub's admin."""
    if who.role is Role.admin or (who.role is Role.national and who.country == country):
        return
    if who.role is Role.national:
        raise Refused(f"{who} may erase records of {who.country} only")
    raise Refused(f"{who} may not erase records: a national officer of {country} asks for that")


def may_read_audit(who: Identity) -> None:
    if who.role not in (Role.admin, Role.dpo):
        raise Refused(f"{who} may not read the audit log")


def may_read_privacy_report(who: Identity) -> None:
    if who.role not in (Role.admin, Role.dpo):
        raise Refused(f"{who} may not read the disclosure-risk report")


def public_k(who: Identity, policy_k: int, asked: int | None) -> int:
    if asked is None or asked >= policy_k:
        return max(asked or policy_k, policy_k)
    if who.role is Role.admin:
        return asked
    raise Refused(f"{who} may not export microdata at k = {asked} (the policy's is {policy_k})")


def epsilon(who: Identity, cap: float, asked: float) -> float:
    if asked > cap:
        raise Refused(f"{who} may not spend epsilon {asked} on one release (the policy caps it at {cap})")
    return asked
