"""Replay a containment plan over history: what each rule would have stopped and broken.

Before anything is applied, every proposed rule runs against all events in the store. A network
block matches an event that crosses the network from one of its sources (host names or
addresses, or the source site) to one of its destinations; an account action matches the
account's events after the containment time (and, for the "would it have stopped it" view, over
all history). Each match is the intrusion's (``history.MALICIOUS_DEFINITION``) or legitimate
work broken, listed with the accounts and hosts it belongs to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ashiato.inventory.model import Inventory
from ashiato.investigate.data import Source
from ashiato.investigate.model import Investigation
from ashiato.respond.history import MALICIOUS_DEFINITION, History, crosses_network, history_for
from ashiato.respond.model import (
    AccountAction,
    ContainmentPlan,
    NetworkBlock,
    Replay,
    RuleReplay,
    VariantReplay,
)
from ashiato.store import Store

BROKEN_MAX = 200
LOCAL_KINDS = frozenset({"logon", "logoff", "privilege_grant"})
"""A session on the host itself (service, batch, console): spared by a reset on that host."""
Match = Callable[[dict[str, Any]], bool]


def _in_nets(ip: str | None, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not ip:
        return False
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a in n for n in nets)


def network_match(rule: NetworkBlock) -> Match:
    """Does an event cross the network from the rule's sources to its destinations?"""
    src_hosts, dst_hosts = set(rule.src_hosts), set(rule.dst_hosts)
    dst_ips = set(rule.dst_ips)
    nets = [ipaddress.ip_network(c, strict=False) for c in rule.src_cidrs]

    def match(r: dict[str, Any]) -> bool:
        if not crosses_network(r):
            return False
        if not (r["dst"] in dst_hosts or (r["dst_ip"] and r["dst_ip"] in dst_ips)):
            return False
        if rule.level == "site":
            return r["src_site"] == rule.src_site or _in_nets(r["src_ip"], nets)
        return r["src"] in src_hosts or _in_nets(r["src_ip"], nets)

    return match


def account_match(rule: AccountAction, after: datetime | None) -> Match:
    """Events by the account (after ``after``); a reset spares the owner's usual hosts (and the
    servers where it logs on locally, as a service does), where the owner or the service
    logs on again with the new password."""
    spared = set(rule.owner_hosts) if rule.action == "reset" else set()
    local = set(rule.local_hosts) if rule.action == "reset" else set()

    def match(r: dict[str, Any]) -> bool:
        if r["user"] != rule.account or (after is not None and r["ts"] <= after):
            return False
        on_host = r["kind"] in LOCAL_KINDS and r["src"] in (None, r["log_host"])
        return r["src"] not in spared and not (on_host and r["log_host"] in local)

    return match


def _count(
    events: list[dict[str, Any]], hist: History, match: Match
) -> tuple[set[str], list[dict[str, Any]]]:
    stopped: set[str] = set()
    broken: list[dict[str, Any]] = []
    for r in events:
        if match(r):
            if r["event_id"] in hist.malicious:
                stopped.add(r["event_id"])
            else:
                broken.append(r)
    return stopped, broken


def _affected(broken: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    accounts = sorted({r["user"] for r in broken if r["user"]})
    hosts = sorted({r["src"] for r in broken if r["src"]})
    return accounts, hosts


def replay_history(plan: ContainmentPlan, hist: History) -> Replay:
    """``replay`` over events already loaded."""
    events = hist.events
    malicious_all = len(hist.malicious)
    malicious_after = sum(
        1 for r in events if r["event_id"] in hist.malicious and r["ts"] > plan.at
    )
    rules: list[RuleReplay] = []
    matchers: dict[str, Match] = {}
    for n in plan.network:
        m = network_match(n)
        matchers[n.id] = m
        stopped, broken = _count(events, hist, m)
        acc, hosts = _affected(broken)
        rules.append(
            RuleReplay(
                n.id,
                "network",
                "all history",
                len(stopped),
                len(broken),
                malicious_all,
                acc,
                hosts,
                [r["event_id"] for r in broken[:BROKEN_MAX]],
            )
        )
    for a in plan.accounts:
        for window, after in (("after T", plan.at), ("all history", None)):
            m = account_match(a, after)
            if after is not None:
                matchers[a.id] = m
            stopped, broken = _count(events, hist, m)
            acc, hosts = _affected(broken)
            note = ""
            if a.action == "reset":
                note = (
                    f"a reset spares the owner's own hosts ({', '.join(a.owner_hosts) or 'none'})"
                    f" and local sessions on {', '.join(a.local_hosts) or 'none'}: the owner or "
                    "service logs on again with the new password"
                )
            rules.append(
                RuleReplay(
                    a.id,
                    "account",
                    window,
                    len(stopped),
                    len(broken),
                    malicious_after if after is not None else malicious_all,
                    acc,
                    hosts,
                    [r["event_id"] for r in broken[:BROKEN_MAX]],
                    note,
                )
            )
    variants: list[VariantReplay] = []
    runs = [(name, desc, matchers) for name, desc in plan.variants.items()]
    if plan.accounts:
        every = dict(matchers)
        every.update({a.id: account_match(a, None) for a in plan.accounts})
        runs += [
            (f"{name} (accounts over all history)", f"{desc}; would it have stopped it", every)
            for name, desc in plan.variants.items()
            if any(isinstance(r, AccountAction) for r in plan.rules(name))
        ]
    for name, desc, mm in runs:
        base = name.split(" (")[0]
        ms = [mm[r.id] for r in plan.rules(base)]
        if not ms:
            continue

        def any_match(r: dict[str, Any], ms: list[Match] = ms) -> bool:
            return any(m(r) for m in ms)

        stopped, broken = _count(events, hist, any_match)
        acc, hosts = _affected(broken)
        variants.append(
            VariantReplay(
                variant=name,
                description=desc,
                malicious_stopped=len(stopped),
                malicious_total=malicious_all,
                legitimate_broken=len(broken),
                accounts_affected=acc,
                hosts_affected=hosts,
                broken_event_ids=[r["event_id"] for r in broken[:BROKEN_MAX]],
                explanation=_explain(broken),
            )
        )
    return Replay(
        incident=plan.incident,
        at=plan.at,
        events_considered=len(events),
        malicious_events=malicious_all,
        rules=rules,
        variants=variants,
        malicious_definition=MALICIOUS_DEFINITION,
    )


def _explain(broken: list[dict[str, Any]]) -> str:
    """Name the legitimate events a variant breaks, grouped by account, path and kind."""
    if not broken:
        return "no legitimate event broken"
    groups: dict[tuple[str, str, str, str], int] = {}
    for r in broken:
        k = (r["user"] or "(no account: network flow)", r["src"] or "?", r["dst"] or "?", r["kind"])
        groups[k] = groups.get(k, 0) + 1
    top = sorted(groups.items(), key=lambda kv: -kv[1])[:10]
    parts = [f"{n} {kind} by {u} {s} -> {d}" for (u, s, d, kind), n in top]
    more = f"; and {len(groups) - 10} more groups" if len(groups) > 10 else ""
    return f"{len(broken)} legitimate events broken: " + "; ".join(parts) + more


def replay(
    store: str | Path | Store,
    inventory: Inventory,
    plan: ContainmentPlan,
    investigation: Investigation,
) -> Replay:
    """Run each of ``plan``'s rules and variants against all history in ``store``."""
    source = Source.open(store if isinstance(store, Store) else Store(store), inventory)
    try:
        hist = history_for(source, inventory, investigation)
    finally:
        source.close()
    return replay_history(plan, hist)
