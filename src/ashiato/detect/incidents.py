"""Group findings into incidents and rank them: the analyst's short queue.

An incident should be one intruder's work, so findings join only on evidence that ties them to
one actor, never on a shared credential alone over days (an outside attacker using a Domain
Admin's account must not be merged into that admin's business trip, three days apart, and take
its rank). Two findings are linked when either holds:

- **A shared acting host**: a host or IP that *acts* in one finding (one of its actors that is
  not an account: the source of its logons, the sender of its upload) and
  - acts in the other too, their spans within ``gap_days`` (7) of each other, with an account
    acting in both or both findings a day long or less: the same keyboard used twice (a month of
    the workstation owner's own practice says nothing about an intruder at that keyboard); or
  - is reached by the other *first* (a finding spanning a day or less: when a month-long
    finding reached a host is unknown), the acting finding starting at most ``path_hours`` (48)
    after the reaching one ends: a path in time (A→B, then B→C with another account is one
    intrusion). Acting from B before anyone reached it, or days after, is no path: a server
    that one intruder reached on Monday and another acted from on Friday joins nothing, and
    neither does a workstation a sweep reached after someone else had acted from it.
  Two findings that merely reach the same server are not linked: reaching a popular file server
  is not one actor.
  A finding that reaches more than ``max_hosts`` (5) hosts (or IPs) — a month of an admin's
  explicit-credential logons to 180 hosts, a spree — links only through the hosts acting in it:
  any one of its many destinations says little, and the month it spans overlaps everything.
- **A shared account within hours** (``account_hours``, 12): the same credential acting in
  findings whose spans lie within ``account_hours`` of each other (one night's operation), when
  neither finding names more than ``max_accounts`` (5) accounts (a finding naming a crowd of
  accounts, "28 ordinary accounts break this path", describes a population, not an actor). An
  account links only where it is one of the finding's actors: a detector that names accounts
  without making them actors (a standing practice, the accounts a spray tried) says they did not
  act there. Nor does it link two findings that each act from their own keyboards (both name
  acting hosts, none shared): the owner at their desk and an intruder on a colleague's PC, the
  same afternoon, are two places; one intruder moving between them leaves a path, and a path
  links.

Two refinements keep one credential in two hands apart:

- **Only brief findings link through an account**: a finding spanning more than ``brief_hours``
  (24) — a month of an admin's share accesses — links through its hosts only; "within hours" of
  a month says nothing.
- **Rival actors**: a finding whose details carry ``rival_actors`` says one credential is in two
  hands at once (the same account used from two countries within minutes while its owner was
  at the keyboard on one side). Around it (within ``account_hours``) that account links
  nothing, and the finding itself never merges incidents: it joins the strongest one it links
  to. An intruder in Tokyo with a Domain Admin's password while the admin works at a Manila
  desk is two stories; the admin's trip is not merged into the intrusion through the account.
  Without the owner seen at either side (an intruder driving hosts in three countries at once)
  the finding links as any other.

**Standing findings** link nothing: a Sigma rule firing for the same actors day after day since
the data began (``sigma.standing`` collapses them into one finding whose details carry
``standing``) is the source's routine. Linked, a service retrying a stale password on an
application server joined every intruder who passed through that server (slow-and-low's
incident on the 29,000-terminal estate: 1 % pure).

**Hubs** never link: a host or IP named by findings of more than ``hub_accounts`` (2) distinct
accounts, except where one account acts from it in both findings (the same credential at the same
keyboard: an intruder working from a server they reached). Machine accounts (``HOST$``) do not
count, a finding naming a crowd of accounts counts as one ("many"), and a finding without an
account counts its acting hosts (for the hosts it reaches). Domain controllers, busy servers and
jump hosts are reached by several unrelated credentials; a link through them says nothing about who
acted, while an intruder's own foothold is named by its one or two accounts. Loopback and
placeholder names ("127.0.0.1", "-") identify no host and never link. The rule is drawn from the
findings alone (the grouping step sees no inventory), so a domain controller named by few findings
is no hub, but it is then a destination only, and destinations alone link nothing.

Findings are ranked by **risk**, driven by the strongest evidence: the highest score among the
incident's findings, plus, for each other detector's best finding (strongest first), half as much
of what it scores above ``CORROBORATE_ABOVE`` (50) as the one before it. One strong finding thus
outranks a heap of weak ones, and low-score, benign-looking findings add nothing. The incident's
title is its strongest finding's title; its id derives from its earliest finding, so it stays the
same while that finding stays first.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from ashiato.detect.common import short_list
from ashiato.detect.spec import SEVERITIES, Finding
from ashiato.events import INCIDENT

ACCOUNT_HOURS = 12.0
"""How close in time two findings sharing only an account must lie to join."""

PATH_HOURS = 48.0
"""How soon after a finding reaches a host another must act from it to continue its path."""

MAX_ACCOUNTS = 5
"""A finding naming more accounts than this does not link through its accounts."""

MAX_HOSTS = 5
"""A finding that reaches more hosts and IPs than this links only through those acting in it."""

HUB_ACCOUNTS = 2
"""A host or IP named by findings of more accounts than this is a hub and links nothing."""

BRIEF_HOURS = 24.0
"""A finding spanning longer than this links through its hosts only, never its account."""

RIVALS = "rival_actors"

STANDING = "standing"
"""Details key of a finding that is a source's routine since the data began (see
``sigma.standing``): it is an incident of its own and links nothing."""
"""The details flag of a finding whose acting hosts are different parties using one account."""

CORROBORATE_ABOVE = 50.0
"""Scores at or below this add nothing to an incident's risk beyond its strongest finding."""


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


NOT_A_HOST = frozenset({"127.0.0.1", "::1", "0.0.0.0", "::", "-", "localhost"})
"""Names a log gives for "this machine" or "none": they identify nobody."""


def _acting(f: Finding) -> set[str]:
    """The hosts and IPs that act in ``f``: its actors that are not accounts."""
    accounts = set(f.accounts)
    return {a for a in f.actors if a and a not in accounts and a.lower() not in NOT_A_HOST}


def _places(f: Finding, max_hosts: int = MAX_HOSTS) -> set[str]:
    """The hosts and IPs through which ``f`` links: those acting, and those it reaches when it
    reaches at most ``max_hosts`` hosts (and as many IPs)."""
    acting = _acting(f)
    hosts = {p for p in f.hosts if p and p.lower() not in NOT_A_HOST} - acting
    ips = {p for p in f.ips if p and p.lower() not in NOT_A_HOST} - acting
    return acting | hosts | ips if max(len(hosts), len(ips)) <= max_hosts else acting


def _who(f: Finding, place: str, max_accounts: int = MAX_ACCOUNTS) -> set[str]:
    """Who ``f`` says reached or used ``place``, for counting a hub's users: its accounts other
    than machine accounts (every crowd of them counts as one: "many"), else its acting hosts
    other than ``place`` itself."""
    if len(set(f.accounts)) > max_accounts:
        return {"crowd"}
    people = {a for a in f.accounts if a and not a.endswith("$")}
    if people:
        return people
    acting = _acting(f)
    return set() if place in acting else {"host:" + a for a in acting}


def hubs(
    findings: Iterable[Finding],
    hub_accounts: int = HUB_ACCOUNTS,
    max_hosts: int = MAX_HOSTS,
    max_accounts: int = MAX_ACCOUNTS,
) -> set[str]:
    """Hosts and IPs named by findings of more than ``hub_accounts`` distinct accounts."""
    who: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        for p in _places(f, max_hosts):
            who[p] |= _who(f, p, max_accounts)
    return {p for p, ids in who.items() if len(ids) > hub_accounts}


def _apart(a: Finding, b: Finding) -> timedelta:
    """The time between two findings' spans (zero when they overlap)."""
    return max(timedelta(0), max(a.first_seen, b.first_seen) - min(a.last_seen, b.last_seen))


def _continues(reach: Finding, act: Finding, window: timedelta) -> bool:
    """``act`` acts from a host ``reach`` reached: a path when it starts no earlier than
    ``reach`` starts and no later than ``window`` after ``reach`` ends."""
    return reach.first_seen <= act.first_seen <= reach.last_seen + window


def _link_account(uf: _UnionFind, order: list[Finding], idx: list[int], near: timedelta) -> None:
    """Union findings of one account (``idx`` sorted by first_seen, each brief) whose spans lie
    within ``near`` of each other, unless each acts from its own keyboards (both name acting
    hosts, none shared): two keyboards are two places, and movement between them is a path."""
    acting = {i: _acting(order[i]) for i in idx}
    for k, i in enumerate(idx):
        for j in idx[k + 1 :]:
            if order[j].first_seen - order[i].last_seen > near:
                break
            if not acting[i] or not acting[j] or acting[i] & acting[j]:
                uf.union(i, j)


def _on_hubs(order: list[Finding], hub: set[str], max_accounts: int) -> list[list[int]]:
    """For each (hub, account): the findings in which that account acts from that hub (one
    pass over the findings)."""
    out: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, f in enumerate(order):
        if len(set(f.accounts)) > max_accounts or f.details.get(STANDING):
            continue
        for p in _acting(f) & hub:
            for a in set(f.accounts) & set(f.actors):
                out[(p, a)].append(i)
    return list(out.values())


def _one_hand(a: Finding, b: Finding, brief: timedelta) -> bool:
    """Two findings acting from one host are one hand's work when they share an account, or
    when both are brief. A month of the workstation owner's own standing practice (reaching a
    server the policy forbids, with three colleagues) overlaps every day an intruder spends at
    that keyboard, and says nothing about them."""
    if set(a.accounts) & set(a.actors) & set(b.accounts) & set(b.actors):
        return True
    return a.last_seen - a.first_seen <= brief and b.last_seen - b.first_seen <= brief


def _rival(f: Finding) -> bool:
    return bool(f.details.get(RIVALS))


def group(
    findings: list[Finding],
    gap_days: float = 7.0,
    *,
    account_hours: float = ACCOUNT_HOURS,
    path_hours: float = PATH_HOURS,
    brief_hours: float = BRIEF_HOURS,
    max_accounts: int = MAX_ACCOUNTS,
    max_hosts: int = MAX_HOSTS,
    hub_accounts: int = HUB_ACCOUNTS,
) -> list[list[Finding]]:
    """Connected components of findings linked as the module docstring says."""
    order = sorted(findings, key=lambda f: (f.first_seen, f.finding_id))
    uf = _UnionFind(len(order))
    gap = timedelta(days=gap_days)
    near = timedelta(hours=account_hours)
    brief = timedelta(hours=brief_hours)
    hub = hubs(
        [f for f in order if not f.details.get(STANDING)], hub_accounts, max_hosts, max_accounts
    )
    rivals = [i for i, f in enumerate(order) if _rival(f)]
    # the hours around a rival-actors finding, per account, when the account identifies nobody
    contested: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for i in rivals:
        f = order[i]
        for a in set(f.accounts) & set(f.actors):
            contested[a].append((f.first_seen - near, f.last_seen + near))
    by_account: dict[str, list[int]] = defaultdict(list)
    naming: dict[str, list[int]] = defaultdict(list)
    acting: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(order):
        if f.details.get(STANDING):
            continue
        if len(set(f.accounts)) <= max_accounts and f.last_seen - f.first_seen <= brief:
            for a in set(f.accounts) & set(f.actors):
                if a and a != "*":
                    by_account[a].append(i)
        for p in _places(f, max_hosts) - hub:
            naming[p].append(i)
        for p in _acting(f) - hub:
            acting[p].append(i)
    rival_set = set(rivals)

    def free(a: str, f: Finding) -> bool:
        return not any(lo <= f.last_seen and f.first_seen <= hi for lo, hi in contested[a])

    for a, idx in by_account.items():
        _link_account(uf, order, [i for i in idx if i not in rival_set and free(a, order[i])], near)
    path = timedelta(hours=path_hours)
    # when a month-long finding reached a host is unknown: only brief ones start a path
    brief_at = [f.last_seen - f.first_seen <= brief for f in order]
    pairs: list[tuple[int, int]] = []  # host links; those with a rival finding wait
    for p, actors in acting.items():
        acts = set(actors)
        for i in naming[p]:
            for j in actors:
                if i == j:
                    continue
                if i in acts:  # both act from p: the same keyboard
                    if _apart(order[i], order[j]) <= gap and _one_hand(order[i], order[j], brief):
                        pairs.append((i, j))
                elif brief_at[i] and _continues(order[i], order[j], path):  # reached, then acted
                    pairs.append((i, j))
    # One account acting from one host in both findings is the same keyboard even on a hub: a
    # jump server many admins use still ties two findings of the same admin working from it.
    for idx in _on_hubs(order, hub, max_accounts):
        pairs += [
            (i, j) for i, j in itertools.combinations(idx, 2) if _apart(order[i], order[j]) <= gap
        ]
    for i, j in pairs:
        if i not in rival_set and j not in rival_set:
            uf.union(i, j)
    # each rival-actors finding joins the strongest incident it links to, and merges none
    linked: dict[int, set[int]] = defaultdict(set)
    for i, j in pairs:
        if i in rival_set and j not in rival_set:
            linked[i].add(j)
        elif j in rival_set and i not in rival_set:
            linked[j].add(i)
    for r in rivals:
        f = order[r]
        for a in set(f.accounts) & set(f.actors):
            linked[r] |= {
                i
                for i in by_account.get(a, [])
                if i not in rival_set and _apart(f, order[i]) <= near
            }
    root = {i: uf.find(i) for i in range(len(order)) if i not in rival_set}
    members: dict[int, list[Finding]] = defaultdict(list)
    for i, x in root.items():
        members[x].append(order[i])
    for r in rivals:
        roots = {root[i] for i in linked[r]}
        if roots:
            best = max(roots, key=lambda x: (risk(members[x]), -x))
            uf.union(best, r)
    comps: dict[int, list[Finding]] = defaultdict(list)
    for i, f in enumerate(order):
        comps[uf.find(i)].append(f)
    return list(comps.values())


def strongest(findings: list[Finding]) -> Finding:
    """The finding that leads an incident: highest score, then earliest, then by id."""
    return min(findings, key=lambda f: (-f.score, f.first_seen, f.finding_id))


def risk(findings: list[Finding]) -> float:
    """The strongest score, plus halving shares of other detectors' scores above 50."""
    best: dict[str, float] = {}
    for f in findings:
        best[f.detector] = max(best.get(f.detector, 0.0), f.score)
    scores = sorted(best.values(), reverse=True)
    total = scores[0] if scores else 0.0
    weight = 0.5
    for s in scores[1:]:
        total += weight * max(0.0, s - CORROBORATE_ABOVE)
        weight /= 2
    return round(total, 2)


def _summary(fs: list[Finding], accounts: list[str], sites: list[str]) -> str:
    dets = sorted({f.title for f in fs})
    return (
        f"{len(fs)} finding(s) from {len({f.detector for f in fs})} detector(s) involving "
        f"account(s) {short_list(accounts) or 'none'} across "
        f"{short_list(sites) or 'unknown sites'}. "
        f"Strongest: {strongest(fs).reason} Other findings: {short_list(dets, 3)}."
    )


def incidents_table(findings: list[Finding], gap_days: float = 7.0) -> pa.Table:
    """Build the ranked INCIDENT table (highest risk first)."""
    rows: list[dict[str, Any]] = []
    for fs in group(findings, gap_days):
        accounts = sorted({a for f in fs for a in f.accounts})
        hosts = sorted({h for f in fs for h in f.hosts})
        sites = sorted({s for f in fs for s in f.sites})
        ips = sorted({i for f in fs for i in f.ips})
        first = min(fs, key=lambda f: (f.first_seen, f.finding_id))
        sev = max((f.severity for f in fs), key=SEVERITIES.index)
        rows.append(
            {
                "incident_id": "I-" + hashlib.sha256(first.finding_id.encode()).hexdigest()[:12],
                "title": strongest(fs).title,
                "risk": risk(fs),
                "severity": sev,
                "status": "new",
                "first_seen": min(f.first_seen for f in fs),
                "last_seen": max(f.last_seen for f in fs),
                "entities": {"accounts": accounts, "hosts": hosts, "sites": sites, "ips": ips},
                "finding_ids": [
                    f.finding_id
                    for f in sorted(fs, key=lambda f: (-f.score, f.first_seen, f.finding_id))
                ],
                "detectors": sorted({f.detector for f in fs}),
                "n_findings": len(fs),
                "summary": _summary(fs, accounts, sites),
            }
        )
    rows.sort(key=lambda r: (-r["risk"], r["first_seen"], r["incident_id"]))
    return pa.Table.from_pylist(rows, schema=INCIDENT)
