"""Evaluate the segmentation policy for one path: may this site/role reach that site/role?

First matching rule wins, then ``intra_site``, then ``default``, as in a firewall. When the account
is unknown (a network flow has none), a rule restricted to a class of accounts still counts as
allowing the path: the network permits it for someone, so the flow alone is no violation.
"""

from __future__ import annotations

from dataclasses import dataclass

from ashiato.inventory.model import Account, Policy, PolicyRule


@dataclass(frozen=True)
class Verdict:
    action: str  # "allow" | "deny"
    rule: str  # the rule's name, "intra_site", "default" or "unknown endpoint"


def _match(pattern: str, value: str | None) -> bool:
    return pattern == "*" or (value is not None and pattern == value)


def _account_matches(selector: str, account: Account | None, user: str | None) -> bool | None:
    """True/False when decidable, None when the account is unknown and the selector needs it."""
    if selector == "any":
        return True
    if selector.startswith("user:"):
        return None if user is None else user == selector[5:].lower()
    if account is None:
        return None
    if selector == "privileged":
        return account.privileged
    if selector == "unprivileged":
        return not account.privileged
    if selector in ("human", "service"):
        return account.kind.value == selector
    if selector.startswith("group:"):
        return selector[6:] in account.all_groups
    return False


def _rule_matches(
    rule: PolicyRule,
    src_site: str | None,
    src_role: str | None,
    dst_site: str | None,
    dst_role: str | None,
    account: Account | None,
    user: str | None,
) -> bool:
    if not (
        _match(rule.from_site, src_site)
        and _match(rule.from_role, src_role)
        and _match(rule.to_site, dst_site)
        and _match(rule.to_role, dst_role)
    ):
        return False
    acc = _account_matches(rule.accounts, account, user)
    if acc is None:  # unknown account: an allow rule gives the benefit of the doubt
        return rule.action == "allow"
    return acc


def evaluate(
    policy: Policy,
    src_site: str | None,
    src_role: str | None,
    dst_site: str | None,
    dst_role: str | None,
    account: Account | None = None,
    user: str | None = None,
) -> Verdict:
    """Decide one path. An endpoint outside every known site is never judged a violation here."""
    if src_site is None or dst_site is None:
        return Verdict("allow", "unknown endpoint")
    for rule in policy.rules:
        if _rule_matches(rule, src_site, src_role, dst_site, dst_role, account, user):
            return Verdict(rule.action, rule.name)
    if src_site == dst_site:
        return Verdict(policy.intra_site, "intra_site")
    return Verdict(policy.default, "default")
