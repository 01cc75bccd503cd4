"""Scope and blast radius: which hosts and accounts an intruder reached, and by which path.

Starting from the seed accounts and the hosts they were misused from, credential edges are
followed forward in time (a logon into B, then logons from B onwards within ``hop_window``),
so every reached host carries the chain of hops that leads to it. The owner's routine, edges
that existed before the campaign began, is kept apart and marked, never silently dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import networkx as nx
import pyarrow as pa

from ashiato.investigate.model import Hop, ReachedAccount, ReachedHost, Scope, Seeds

KERBEROS = ("kerberos_service", "kerberos_tgt")
HOP_WINDOW = timedelta(days=7)
"""How long after reaching a host the intruder's onward logons from it still count."""


def _hop(r: dict[str, Any]) -> Hop:
    return Hop(
        ts=r["ts"],
        account=r["user"],
        src=r["src"],
        dst=r["dst"],
        event_id=r["event_id"],
        kind=r["kind"],
    )


def routine_keys(edges: pa.Table, before: datetime) -> set[tuple[str, str, str]]:
    """(account, source, destination) triples already used before ``before``: the owner's habits."""
    return {
        (r["user"], r["src"], r["dst"])
        for r in edges.select(["ts", "user", "src", "dst"]).to_pylist()
        if r["ts"] < before
    }


def seed_sources(
    edges: pa.Table,
    accounts: Iterable[str],
    candidates: Iterable[str],
    before: datetime,
) -> list[str]:
    """Candidate hosts a seed account was first used from at or after ``before``."""
    accs = set(accounts)
    cand = set(candidates)
    old = {
        (r["user"], r["src"])
        for r in edges.select(["ts", "user", "src"]).to_pylist()
        if r["ts"] < before
    }
    return sorted(
        {
            r["src"]
            for r in edges.select(["ts", "user", "src"]).to_pylist()
            if r["user"] in accs
            and r["src"] in cand
            and r["ts"] >= before
            and (r["user"], r["src"]) not in old
        }
    )


def blast_radius(
    edges: pa.Table,
    seeds: Seeds,
    *,
    hop_window: timedelta = HOP_WINDOW,
    flagged: Collection[str] = (),
    roles: dict[str, tuple[str | None, str | None]] | None = None,
) -> Scope:
    """Follow credential edges forward in time from the seeds; return reached hosts and accounts.

    ``edges`` is ``data.edges_expr`` over all history of the seed accounts and of the seed source
    hosts (any account); edges before ``seeds.start`` only define the routine. An edge counts
    when its source was reached no later than the edge and at most ``hop_window`` before it,
    and its account is a seed account or one first used from a seed host during the campaign.
    A routine edge that a finding cites (``flagged`` event ids) is not routine any more.
    """
    flagged = set(flagged)
    roles = roles or {}
    rows = sorted(edges.to_pylist(), key=lambda r: (r["ts"], r["event_id"]))
    routine = routine_keys(edges, seeds.start)
    old_pairs = {(r["user"], r["src"]) for r in rows if r["ts"] < seeds.start}
    in_window = [r for r in rows if seeds.start <= r["ts"] <= seeds.end]
    in_window += [  # a Kerberos ticket also touches the domain controller that issued it
        {**r, "dst": r["log_host"], "share": None, "path": None}
        for r in in_window
        if r["kind"] in KERBEROS and r["log_host"] and r["log_host"] not in (r["dst"], r["src"])
    ]
    in_window.sort(key=lambda r: (r["ts"], r["event_id"]))
    accounts: dict[str, ReachedAccount] = {
        a: ReachedAccount(account=a, first_seen=None, via=None, seed=True) for a in seeds.accounts
    }
    for r in in_window:  # accounts first used from an attacker's host during the campaign
        new_pair = (r["user"], r["src"]) not in old_pairs
        if r["src"] in seeds.hosts and r["user"] not in accounts and new_pair:
            accounts[r["user"]] = ReachedAccount(
                account=r["user"], first_seen=r["ts"], via=r["src"], seed=False
            )
    reached: dict[str, datetime] = dict.fromkeys(seeds.hosts, seeds.start)
    tree: nx.DiGraph[str] = nx.DiGraph()
    tree.add_nodes_from(seeds.hosts)
    hops_into: dict[str, list[Hop]] = defaultdict(list)
    routine_into: dict[str, list[Hop]] = defaultdict(list)
    used: list[dict[str, Any]] = []
    for r in in_window:
        if r["user"] not in accounts or r["src"] not in reached:
            continue
        since = reached[r["src"]]
        if r["ts"] < since or (r["src"] not in seeds.hosts and r["ts"] - since > hop_window):
            continue
        acc = accounts[r["user"]]
        if acc.first_seen is None or r["ts"] < acc.first_seen:
            accounts[r["user"]] = ReachedAccount(
                acc.account, r["ts"], acc.via or r["src"], acc.seed
            )
        hop = _hop(r)
        if (r["user"], r["src"], r["dst"]) in routine and r["event_id"] not in flagged:
            routine_into[r["dst"]].append(hop)
            continue
        used.append(r)
        hops_into[r["dst"]].append(hop)
        if r["dst"] not in reached:
            reached[r["dst"]] = r["ts"]
            tree.add_edge(r["src"], r["dst"], hop=hop)
    hosts = [
        _reached_host(h, tree, seeds, reached.get(h), hops_into[h], routine_into[h], used, roles)
        for h in sorted(set(reached) | set(routine_into))
    ]
    return Scope(
        seeds=seeds,
        hosts=hosts,
        accounts=sorted(accounts.values(), key=lambda a: a.account),
        edge_event_ids=list(dict.fromkeys(r["event_id"] for r in used)),
        routine_event_ids=sorted({h.event_id for hs in routine_into.values() for h in hs}),
    )


def _path(tree: nx.DiGraph[str], host: str) -> list[Hop]:
    """Hops from the seed host that leads to ``host`` in the earliest-arrival tree."""
    hops: list[Hop] = []
    cur = host
    while True:
        preds = list(tree.predecessors(cur)) if cur in tree else []
        if not preds:
            break
        hops.append(tree.edges[preds[0], cur]["hop"])
        cur = preds[0]
    return hops[::-1]


def _reached_host(
    host: str,
    tree: nx.DiGraph[str],
    seeds: Seeds,
    first: datetime | None,
    hops: Sequence[Hop],
    routine: Sequence[Hop],
    used: Sequence[dict[str, Any]],
    roles: dict[str, tuple[str | None, str | None]],
) -> ReachedHost:
    shares: dict[str, set[str]] = defaultdict(set)
    for r in used:
        if r["dst"] == host and r["share"]:
            name = str(r["share"]).rsplit("\\", 1)[-1]
            if r["path"]:
                shares[name].add(str(r["path"]))
            else:
                shares.setdefault(name, set())
    site, role = roles.get(host, (None, None))
    return ReachedHost(
        host=host,
        site=site,
        role=role,
        seed=host in seeds.hosts,
        routine_only=first is None,
        first_reached=first,
        path=_path(tree, host),
        accounts=sorted({h.account for h in hops} | {h.account for h in routine}),
        events=len(hops),
        routine_events=len(routine),
        shares={k: sorted(v) for k, v in sorted(shares.items())},
        database=role == "database",
    )
