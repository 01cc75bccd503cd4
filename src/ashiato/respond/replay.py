"""Replay a containment plan over history: what each rule would have stopped and broken.

Before anything is applied, every proposed rule runs against all events in the store, as it was
rendered (``respond.renderable``), not as it was meant: a network block matches an event that
crosses the network from one of the source addresses written into the rule files to one of the
destination addresses (or to a destination host that got the inbound rule, or from a source host
that got the outbound one); an event's addresses are its own and its hosts' inventory addresses.
An account action whose name could not be rendered stops nothing; one that was matches the
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
from ashiato.quote import Unsafe, netaddr
from ashiato.respond.history import MALICIOUS_DEFINITION, History, crosses_network, history_for
from ashiato.respond.model import (
    AccountAction,
    ContainmentPlan,
    NetworkBlock,
    Replay,
    RuleReplay,
    VariantReplay,
)
from ashiato.respond.renderable import account_problem, rendered
from ashiato.store import Store

BROKEN_MAX = 200
LOCAL_KINDS = frozenset({"logon", "logoff", "privilege_grant"})
"""A session on the host itself (service, batch, console): spared by a reset on that host."""
Match = Callable[[dict[str, Any]], bool]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _in_nets(ip: str | None, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    if not ip:
        return False
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a in n for n in nets)


class Addresses:
    """An event endpoint's addresses: the one it logged and its host's inventory addresses
    (parsed once per distinct endpoint)."""

    def __init__(self, inventory: dict[str, list[str]]) -> None:
        self.inventory = inventory
        self.cache: dict[tuple[str | None, str | None], frozenset[Address]] = {}

    def of(self, host: str | None, ip: str | None) -> frozenset[Address]:
        key = (host, ip)
        got = self.cache.get(key)
        if got is None:
            out = set()
            for v in [ip, *self.inventory.get(host or "", [])]:
                try:
                    out.add(ipaddress.ip_address(v or ""))
                except ValueError:
                    continue
            got = self.cache[key] = frozenset(out)
        return got


def _hits(addrs: frozenset[Address], nets: list[Network]) -> bool:
    return any(a in n for a in addrs for n in nets)


def rendered_match(rule: NetworkBlock, addresses: Addresses) -> Match:
    """Would the rule as rendered stop the event? nftables and IOS match a source address with
    a destination address; Windows Firewall's inbound rule a source address on a destination
    host, its outbound rule a destination address on a source host."""
    r = rendered(rule)
    src = [ipaddress.ip_network(a) for a in r.src]
    dst = [ipaddress.ip_network(a) for a in r.dst]
    inbound, outbound = set(r.inbound_hosts), set(r.outbound_hosts)

    def match(e: dict[str, Any]) -> bool:
        if not crosses_network(e):
            return False
        to_dst = _hits(addresses.of(e["dst"], e["dst_ip"]), dst)
        if e["src"] in outbound and to_dst:
            return True
        return (to_dst or e["dst"] in inbound) and _hits(addresses.of(e["src"], e["src_ip"]), src)

    return match


def network_match(rule: NetworkBlock) -> Match:
    """Does an event cross the network from the rule's sources to its destinations (by name
    or address, as planned: what verification watches, whatever was rendered)?"""
    src_hosts, dst_hosts = set(rule.src_hosts), set(rule.dst_hosts)
    dst_ips = set(rule.dst_ips)
    nets = []
    for c in rule.src_cidrs:
        try:
            nets.append(netaddr.network(c))
        except Unsafe:
            continue  # not an address: only the host names can match

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
    logs on again with the new password. An action whose account name could not be written into
    a cmdlet matches nothing."""
    not_rendered = account_problem(rule) is not None
    spared = set(rule.owner_hosts) if rule.action == "reset" else set()
    local = set(rule.local_hosts) if rule.action == "reset" else set()

    def match(r: dict[str, Any]) -> bool:
        if not_rendered:
            return False
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
    addresses = Addresses(hist.addresses)
    for n in plan.network:
        m = rendered_match(n, addresses)
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
            if (why := account_problem(a)) is not None:
                note = f"not rendered (the name cannot be an AD logon name: {why}): stops nothing"
            elif a.action == "reset":
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
