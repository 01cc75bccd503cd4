"""Plan containment from an investigation: network blocks, account actions, tightened policy.

Every proposal is weighed against legitimate use (events that are not the intrusion's): a block
that would cut a path the business used up to the containment time is left out of the plan and
listed in ``skipped`` with the count, the intruder's use of it being stopped by the account
actions instead; the tightened policy allows exactly what the source sites reached before the
onset (the baseline) and denies the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ashiato.inventory.model import Account, AccountKind, Inventory, Role
from ashiato.investigate.data import Source
from ashiato.investigate.model import Investigation
from ashiato.quote import Unsafe, netaddr
from ashiato.respond.history import History, crosses_network, history_for
from ashiato.respond.model import AccountAction, ContainmentPlan, NetworkBlock, PolicyEntry
from ashiato.respond.renderable import manual
from ashiato.store import Store

HOST = "host blocks"
SITE = "host + site blocks"
FULL = "full plan"
ISOLATE = "isolate sources"
VARIANTS = {
    HOST: "host-level blocks from the source hosts to the hosts they reached, except the paths "
    "each source host used legitimately up to the containment time",
    SITE: "host blocks plus site-to-site blocks toward the reached hosts no host of the source "
    "site used legitimately up to the containment time",
    FULL: "host and site blocks plus the account actions (disable or reset)",
    ISOLATE: "for comparison: every source host cut from every host it reached, baseline or not",
}
EVIDENCE_MAX = 50
ADMIN_GROUPS = ("domain admins", "enterprise admins", "administrators")


def _ips(inventory: Inventory, hosts: list[str]) -> list[str]:
    by = {a.host: a for a in inventory.assets}
    return sorted({str(ip) for h in hosts if h in by for ip in by[h].ips})


@dataclass(frozen=True)
class _Source:
    """What the plan knows about one source host of the intrusion."""

    addresses: list[str]  # inventory addresses, and those its malicious events came from
    site: str | None  # the inventory's site, else the one its events resolved to (by CIDR)
    known: bool  # an inventory asset (only those get rules pushed onto them)
    refused: list[str]  # source "addresses" in its events that are not addresses


def _sources(
    inventory: Inventory, seeds: list[str], mal: list[dict[str, Any]]
) -> dict[str, _Source]:
    """Each source host's addresses, also for hosts the inventory does not know: the intruder's
    machine in an office subnet, or one the logs name only by address."""
    assets = {a.host: a for a in inventory.assets}
    out: dict[str, _Source] = {}
    for h in seeds:
        mine = [r for r in mal if r["src"] == h]
        seen = sorted({r["src_ip"] for r in mine if r["src_ip"]} | {h})
        valid: set[str] = {str(ip) for ip in assets[h].ips} if h in assets else set()
        refused = []
        for v in seen:
            try:
                valid.add(netaddr.address(v))
            except Unsafe:
                if v != h:  # a host name is not meant to be an address
                    refused.append(v)
        sites = Counter(r["src_site"] for r in mine if r["src_site"])
        site = assets[h].site if h in assets else (sites.most_common(1)[0][0] if sites else None)
        out[h] = _Source(sorted(valid), site, h in assets, refused)
    return out


def _network_blocks(
    inventory: Inventory, inv: Investigation, hist: History, at: datetime
) -> tuple[list[NetworkBlock], list[str]]:
    assets = {a.host: a for a in inventory.assets}
    seeds = sorted(inv.seeds.hosts)
    mal = [r for r in hist.events if r["event_id"] in hist.malicious and crosses_network(r)]
    legit = [r for r in hist.legit_until(at) if crosses_network(r)]
    ts_of: dict[str, datetime] = {r["event_id"]: r["ts"] for r in mal}
    reached: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in mal:
        if r["src"] in seeds and r["dst"] in assets and r["dst"] not in seeds:
            reached[r["src"]][r["dst"]].append(r["event_id"])
    base_host: Counter[tuple[str, str]] = Counter((r["src"], r["dst"]) for r in legit)
    base_site: Counter[tuple[str, str]] = Counter(
        (r["src_site"], r["dst"]) for r in legit if r["src_site"]
    )
    blocks: list[NetworkBlock] = []
    skipped: list[str] = []
    onset = hist.onset.strftime("%Y-%m-%d %H:%M UTC")
    until = f"up to the containment time ({at:%Y-%m-%d %H:%M UTC})"
    sources = _sources(inventory, seeds, mal)
    for n, h in enumerate(seeds, 1):
        dsts = reached.get(h, {})
        if not dsts:
            continue
        src = sources[h]
        skipped += [f"source {h}: {v!r} in its events is not an address" for v in src.refused]
        unknown = "" if src.known else f"; {h} is not in the inventory"
        if not src.addresses:
            unknown += (
                f"; NO ADDRESS IS KNOWN for {h} (the inventory does not list one and none of "
                "its events carries a source address), so no network rule can be rendered: "
                "find its address and block it by hand"
            )
            skipped.append(f"host block {h}: no address known, listed for manual handling")
        every = sorted(dsts)
        keep = [d for d in every if base_host[(h, d)] == 0]
        for d in every:
            if base_host[(h, d)]:
                skipped.append(
                    f"host block {h} -> {d}: {base_host[(h, d)]} legitimate events over this "
                    f"path {until}; kept open, contained by the account actions instead"
                )
        ev = sorted({e for d in every for e in dsts[d]})
        on_source = [h] if src.known else []
        if keep:
            blocks.append(
                NetworkBlock(
                    id=f"H{n}",
                    level="host",
                    src_hosts=[h],
                    src_site=src.site,
                    src_cidrs=src.addresses,
                    dst_hosts=keep,
                    dst_ips=_ips(inventory, keep),
                    reason=f"{h} is a source of the intrusion: {sum(len(dsts[d]) for d in keep)} "
                    f"of its events reached these {len(keep)} hosts (first "
                    f"{min(ts_of[dsts[d][0]] for d in keep):%Y-%m-%d %H:%M UTC}, onset {onset}); "
                    f"no legitimate use of these paths from {h} {until}{unknown}",
                    evidence=sorted({e for d in keep for e in dsts[d]})[:EVIDENCE_MAX],
                    baseline_events=0,
                    variants=[HOST, SITE, FULL],
                    outbound_hosts=on_source,
                )
            )
        blocks.append(
            NetworkBlock(
                id=f"X{n}",
                level="host",
                src_hosts=[h],
                src_site=src.site,
                src_cidrs=src.addresses,
                dst_hosts=every,
                dst_ips=_ips(inventory, every),
                reason=f"isolate {h} from all {len(every)} hosts the intrusion reached from it, "
                f"including {len(every) - len(keep)} its legitimate users also reach{unknown}",
                evidence=ev[:EVIDENCE_MAX],
                baseline_events=sum(base_host[(h, d)] for d in every),
                variants=[ISOLATE],
                outbound_hosts=on_source,
            )
        )
    # site level: from each source site to the reached hosts of other sites that no host of
    # the source site used legitimately up to the containment time
    by_site: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for h, dsts in reached.items():
        s = sources[h].site
        if s is None:
            continue
        for d, ids in dsts.items():
            if assets[d].site != s:
                by_site[s][d].extend(ids)
    for n, s in enumerate(sorted(by_site), 1):
        site = inventory.site(s)
        dsts = by_site[s]
        keep = sorted(d for d in dsts if base_site[(s, d)] == 0)
        for d in sorted(set(dsts) - set(keep)):
            skipped.append(
                f"site block {s} -> {d}: {base_site[(s, d)]} legitimate events from {s} {until}"
            )
        if not keep or site is None or not site.cidrs:
            if keep:
                skipped.append(f"site block {s}: the inventory gives {s} no CIDRs")
            continue
        to_sites = sorted({assets[d].site for d in keep})
        blocks.append(
            NetworkBlock(
                id=f"S{n}",
                level="site",
                src_hosts=[],
                src_site=s,
                src_cidrs=[str(c) for c in site.cidrs],
                dst_hosts=keep,
                dst_ips=_ips(inventory, keep),
                reason=f"the intrusion came from {s} and reached these {len(keep)} hosts of "
                f"{', '.join(to_sites)}; no legitimate use of them from {s} {until}",
                evidence=sorted({e for d in keep for e in dsts[d]})[:EVIDENCE_MAX],
                baseline_events=0,
                variants=[SITE, FULL],
            )
        )
    return blocks, skipped


def _account_actions(
    inventory: Inventory, inv: Investigation, hist: History
) -> list[AccountAction]:
    accounts = {a.user: a for a in inventory.accounts}
    out: list[AccountAction] = []
    # the hosts the intrusion came from are never the owner's usual hosts: a reset does not
    # spare them, and use from them after the onset is not the owner still working
    seeds = set(inv.seeds.hosts) | hist.sources
    for n, ra in enumerate(sorted(inv.scope.accounts, key=lambda a: a.account), 1):
        user = ra.account
        if user.endswith("$"):
            continue
        acc: Account | None = accounts.get(user)
        mine = [r for r in hist.events if r["user"] == user and r["outcome"] == "success"]
        evidence = sorted(r["event_id"] for r in mine if r["event_id"] in hist.malicious)
        before = [r for r in mine if r["ts"] < hist.onset and r["event_id"] not in hist.malicious]
        owner_hosts = sorted({r["src"] for r in before if r["src"] and r["src"] not in seeds})
        local_hosts = sorted(
            {
                r["log_host"]
                for r in before
                if r["kind"] == "logon" and r["log_host"] and r["src"] in (None, r["log_host"])
            }
        )
        after = [r for r in mine if r["ts"] >= hist.onset and r["event_id"] not in hist.malicious]
        since = [r for r in after if r["src"] not in seeds]
        on_seeds = sorted({r["src"] for r in after if r["src"] in seeds})
        not_counted = (
            f"; {len(after) - len(since)} more from the intrusion's source hosts "
            f"({', '.join(on_seeds[:5])}) are not counted as the owner's"
            if on_seeds
            else ""
        )
        owner = acc.owner if acc else None
        privileged = bool(acc and acc.privileged)
        service = bool(acc and acc.kind == AccountKind.SERVICE)
        hosts_since = sorted({r["src"] for r in since if r["src"]})
        if service:
            action = "reset"
            reason = (
                f"service account: disabling it stops the services that log on with it "
                f"({', '.join(owner_hosts[:5]) or 'none seen'}); reset the password and update "
                "it in those services"
            )
        elif privileged and (since or owner):
            action = "reset"
            reason = (
                f"privileged ({', '.join(acc.privileged_groups) if acc else ''}) and its owner "
                f"{owner or '(unnamed)'} still works: {len(since)} legitimate uses since the onset "
                f"from {', '.join(hosts_since[:5]) or 'their usual hosts'}{not_counted}; "
                "disabling would lock them out, a reset voids the password the intruder holds"
            )
        else:
            action = "disable"
            reason = (
                f"{'privileged' if privileged else 'ordinary'} account used by the intruder "
                f"({len(evidence)} events); disable until the owner "
                f"{owner or ''} is re-issued a credential"
            ).replace("owner  is", "owner is")
        out.append(
            AccountAction(
                id=f"A{n}",
                account=user,
                action=action,
                privileged=privileged,
                owner=owner,
                owner_hosts=owner_hosts if action == "reset" else [],
                local_hosts=local_hosts if action == "reset" else [],
                reason=reason,
                evidence=evidence[:EVIDENCE_MAX],
                variants=[FULL],
            )
        )
    return out


def _krbtgt(inventory: Inventory, inv: Investigation) -> str | None:
    roles = {a.host: a.role for a in inventory.assets}
    accounts = {a.user: a for a in inventory.accounts}
    dcs = [
        h.host
        for h in inv.scope.hosts
        if not h.routine_only and not h.seed and roles.get(h.host) == Role.DOMAIN_CONTROLLER
    ]
    admins = [
        a.account
        for a in inv.scope.accounts
        if (acc := accounts.get(a.account)) is not None
        and any(g.lower() in ADMIN_GROUPS for g in acc.privileged_groups)
    ]
    if not dcs or not admins:
        return None
    return (
        f"domain controllers {', '.join(sorted(dcs))} were reached with domain-admin account(s) "
        f"{', '.join(sorted(admins))}: the intruder could have read the krbtgt key and forge "
        "tickets (golden ticket) that survive every password reset. Reset the krbtgt password "
        "twice, at least the maximum ticket lifetime (10 h by default) apart, after the "
        "account actions above (Microsoft's New-KrbtgtKeys.ps1 checks replication first)."
    )


def _policy(inventory: Inventory, inv: Investigation, hist: History) -> list[PolicyEntry]:
    assets = {a.host: a for a in inventory.assets}
    src_sites = sorted({assets[h].site for h in inv.seeds.hosts if h in assets})
    legit = [
        r
        for r in hist.legit_before_onset()
        if crosses_network(r) and r["src_site"] in src_sites and r["dst_site"]
    ]
    onset = hist.onset.strftime("%Y-%m-%d %H:%M UTC")
    days = (
        f"{min(r['ts'] for r in legit).date()} to {max(r['ts'] for r in legit).date()}"
        if legit
        else "no data"
    )
    mal_sites = {
        (r["src_site"], r["dst_site"])
        for r in hist.events
        if r["event_id"] in hist.malicious and crosses_network(r)
    }
    out: list[PolicyEntry] = []
    for s in src_sites:
        mine = [r for r in legit if r["src_site"] == s and r["dst_site"] != s]
        pairs = Counter((r["dst_site"], r["dst_role"] or "*") for r in mine)
        priv = Counter((r["dst_site"], r["user"]) for r in mine if r["privileged"] and r["user"])
        for t in sorted(x.name for x in inventory.sites if x.name != s):
            if (s, t) in mal_sites:
                admins = sorted(u for (site, u) in priv if site == t)
                for u in admins:
                    out.append(
                        PolicyEntry(
                            name=f"contain-{s}-to-{t}-{u}".lower(),
                            from_site=s,
                            to_site=t,
                            to_role="*",
                            accounts=f"user:{u}",
                            action="allow",
                            description=f"baseline: privileged {u} reached {t} from {s} "
                            f"{priv[(t, u)]} times ({days})",
                        )
                    )
                out.append(
                    PolicyEntry(
                        name=f"contain-{s}-to-{t}-privileged".lower(),
                        from_site=s,
                        to_site=t,
                        to_role="*",
                        accounts="privileged",
                        action="deny",
                        description=f"no other privileged account reached {t} from {s} in the "
                        f"baseline ({days}, before the onset {onset}); the intrusion did",
                    )
                )
            for (site, role), n in sorted(pairs.items()):
                if site != t:
                    continue
                out.append(
                    PolicyEntry(
                        name=f"contain-{s}-to-{t}-{role}".lower().replace("*", "any"),
                        from_site=s,
                        to_site=t,
                        to_role=role if role in {r.value for r in Role} else "*",
                        accounts="any",
                        action="allow",
                        description=f"baseline: {n} legitimate events from {s} to {t} {role} "
                        f"hosts ({days})",
                    )
                )
            out.append(
                PolicyEntry(
                    name=f"contain-{s}-to-{t}-rest".lower(),
                    from_site=s,
                    to_site=t,
                    to_role="*",
                    accounts="any",
                    action="deny",
                    description=f"nothing else from {s} reached {t} in the baseline ({days})",
                )
            )
    return out


def plan_containment(
    store: str | Path | Store,
    inventory: Inventory,
    investigation: Investigation,
    at: datetime | None = None,
) -> ContainmentPlan:
    """Propose network blocks, account actions and policy entries for ``investigation``.

    ``at`` is the containment time (account actions count from it in the replay); by default
    the last event in the store, i.e. "now" as far as the logs go.
    """
    source = Source.open(store if isinstance(store, Store) else Store(store), inventory)
    try:
        hist = history_for(source, inventory, investigation)
    finally:
        source.close()
    return plan_from_history(inventory, investigation, hist, at)


def plan_from_history(
    inventory: Inventory, inv: Investigation, hist: History, at: datetime | None = None
) -> ContainmentPlan:
    """``plan_containment`` over events already loaded (replay reuses them)."""
    when = at or hist.end or inv.seeds.end
    blocks, skipped = _network_blocks(inventory, inv, hist, when)
    plan = ContainmentPlan(
        incident=inv.seeds.id,
        at=when,
        onset=hist.onset,
        accounts_seen=sorted(a.account for a in inv.scope.accounts),
        network=blocks,
        accounts=_account_actions(inventory, inv, hist),
        policy=_policy(inventory, inv, hist),
        krbtgt=_krbtgt(inventory, inv),
        skipped=skipped,
        variants=dict(VARIANTS),
    )
    return replace(plan, manual=manual(plan))
