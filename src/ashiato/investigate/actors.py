"""One actor or several: cluster the intrusion's sessions (one per source host) into campaigns.

Two sessions are one actor when they share a credential; a hop chain (one session reaching the
other's source host) is reported beside the merge, but does not merge on its own: every actor
that reaches a busy server would otherwise become one. Everything else that tells actors apart
(hop chains, logon types and packages, hours of activity, targets) is reported as evidence
beside each merge and each split, so an analyst can overrule the grouping with reasons in hand.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

import networkx as nx
import pyarrow as pa

from ashiato.investigate.model import Actors, Campaign, Session

HANDS = timedelta(hours=1)
"""Two accounts acting from one host within this of each other are one pair of hands switching
credentials; apart for longer, they are two people sharing a machine (a workstation's owner by
day, an intruder on it at night)."""


def _hands(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split one source host's edges into groups of accounts used by one pair of hands."""
    g: nx.Graph[str] = nx.Graph()
    ordered = sorted(rows, key=lambda r: r["ts"])
    g.add_nodes_from(r["user"] for r in ordered)
    for a, b in itertools.pairwise(ordered):
        if a["user"] != b["user"] and b["ts"] - a["ts"] <= HANDS:
            g.add_edge(a["user"], b["user"])
    group = {u: i for i, comp in enumerate(nx.connected_components(g)) for u in comp}
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in ordered:
        out[group[r["user"]]].append(r)
    return sorted(out.values(), key=lambda rs: rs[0]["ts"])


def sessions(
    edges: pa.Table,
    campaign_event_ids: Collection[str],
    sources: Collection[str],
    sites: Mapping[str, str | None],
) -> list[Session]:
    """One session per source host and pair of hands: the campaign edges that leave it. A host
    used by two people apart in time (see ``HANDS``) gives one session each, named
    ``host (accounts)``, so a workstation's owner is not clustered with the intruder on it."""
    wanted = set(campaign_event_ids)
    srcs = set(sources)
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in edges.to_pylist():
        if r["event_id"] in wanted and r["src"] in srcs:
            by[r["src"]].append(r)
    out = []
    for src, all_rows in sorted(by.items()):
        groups = _hands(all_rows)
        for rows in groups:
            hours = [0] * 24
            for r in rows:
                hours[r["ts"].hour] += 1
            accounts = sorted({r["user"] for r in rows})
            out.append(
                Session(
                    src=src if len(groups) == 1 else f"{src} ({', '.join(accounts)})",
                    site=sites.get(src),
                    accounts=accounts,
                    first=min(r["ts"] for r in rows),
                    last=max(r["ts"] for r in rows),
                    events=len(rows),
                    logon_types=sorted({int(r["logon_type"]) for r in rows if r["logon_type"]}),
                    auth_packages=sorted(
                        {str(r["auth_package"]) for r in rows if r["auth_package"]}
                    ),
                    hours=hours,
                    targets=sorted({r["dst"] for r in rows}),
                    host=src,
                )
            )
    return out


def _cosine(a: list[int], b: list[int]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _jaccard(a: Collection[str], b: Collection[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def _chain(a: Session, b: Session) -> str:
    """Words for a hop chain between two sessions: one reached the other's source host."""
    for x, y in ((a, b), (b, a)):
        hit = sorted(set(y.host.split("+")) & set(x.targets))
        if hit:
            return f"{x.src} reached {', '.join(hit)}, a source of {y.src}"
    return ""


def _traits(a: Session, b: Session) -> str:
    return (
        f"hours alike {_cosine(a.hours, b.hours):.2f}, targets overlap "
        f"{_jaccard(a.targets, b.targets):.2f}, logon types {a.logon_types} vs {b.logon_types}, "
        f"packages {a.auth_packages} vs {b.auth_packages}"
    )


def cluster(sess: list[Session]) -> Actors:
    """Group sessions into campaigns by shared credentials, with the reasons for each."""
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(s.src for s in sess)
    merges: list[str] = []
    for a, b in itertools.combinations(sess, 2):
        shared = sorted(set(a.accounts) & set(b.accounts))
        if shared:
            g.add_edge(a.src, b.src)
            chain = _chain(a, b)
            merges.append(
                f"{a.src} + {b.src}: same credential(s) {', '.join(shared)}"
                + (f"; {chain}" if chain else "")
                + f"; {_traits(a, b)}"
            )
    by_src = {s.src: s for s in sess}
    campaigns = []
    for comp in nx.connected_components(g):
        members = [by_src[h] for h in sorted(comp)]
        campaigns.append(
            Campaign(
                sessions=[m.src for m in members],
                sites=sorted({m.site for m in members if m.site}),
                accounts=sorted({a for m in members for a in m.accounts}),
                first=min(m.first for m in members),
                last=max(m.last for m in members),
            )
        )
    campaigns.sort(key=lambda c: (c.first, c.sessions))
    splits = []
    for x, y in itertools.combinations(campaigns, 2):
        a = _profile([by_src[s] for s in x.sessions])
        b = _profile([by_src[s] for s in y.sessions])
        chain = _chain(a, b)
        splits.append(
            f"{'+'.join(x.sessions)} | {'+'.join(y.sessions)}: no shared credential "
            f"({', '.join(x.accounts)} vs {', '.join(y.accounts)}); "
            + (f"{chain}, but with other credentials; " if chain else "no hop chain; ")
            + _traits(a, b)
        )
    return Actors(campaigns=campaigns, sessions=sess, merges=merges, splits=splits)


def _profile(members: list[Session]) -> Session:
    """The sessions of one campaign summed into one, for comparing campaigns."""
    hours = [sum(c) for c in zip(*(m.hours for m in members), strict=True)]
    return Session(
        src="+".join(m.src for m in members),
        host="+".join(m.host for m in members),
        site=None,
        accounts=sorted({a for m in members for a in m.accounts}),
        first=min(m.first for m in members),
        last=max(m.last for m in members),
        events=sum(m.events for m in members),
        logon_types=sorted({t for m in members for t in m.logon_types}),
        auth_packages=sorted({p for m in members for p in m.auth_packages}),
        hours=hours,
        targets=sorted({t for m in members for t in m.targets}),
    )
