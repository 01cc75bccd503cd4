"""Where an investigation starts: the accounts, source hosts and time span behind an id.

An incident's findings name accounts and hosts without saying which hosts were sources; the
sources are read off the findings' evidence events, and only those a seed account was first
used from once the findings began (not the owner's own workstation) become seed hosts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import pyarrow as pa

from ashiato.errors import AshiatoError
from ashiato.inventory.resolve import Resolver
from ashiato.investigate.data import Source, edges_expr
from ashiato.investigate.model import Seeds
from ashiato.investigate.scope import seed_sources

Kind = Literal["incident", "account", "host", "site"]

TAIL = timedelta(days=1)
"""How far past the last finding the intruder's activity is still followed."""

LEAD = timedelta(minutes=10)
"""How long before the first finding a seed host's first use may lie: the TGT and tickets a
flagged logon needs are requested seconds before it, and a finding need not cite them."""


def _is_account(a: str) -> bool:
    return not a.endswith("$")


def _findings_for(source: Source, kind: Kind, id: str) -> list[dict[str, Any]]:
    findings = source.store.read_findings().to_pylist()
    if kind == "incident":
        incs = [r for r in source.store.read_incidents().to_pylist() if r["incident_id"] == id]
        if not incs:
            raise AshiatoError(
                f"no incident {id!r} in {source.store.root} (see `ashiato incidents`)"
            )
        wanted = set(incs[0]["finding_ids"])
        return [f for f in findings if f["finding_id"] in wanted]
    key = {"account": "accounts", "host": "hosts", "site": "sites"}[kind]
    return [f for f in findings if id in ((f["entities"] or {}).get(key) or [])]


def seeds_for(source: Source, kind: Kind, id: str) -> tuple[Seeds, pa.Table, list[str]]:
    """Seeds for ``kind``/``id``, the credential edges of the seed accounts and seed hosts over
    all history, and the event ids its findings cite."""
    fs = _findings_for(source, kind, id)
    resolver = Resolver(source.inventory)
    if kind == "account":
        accounts = [id.lower()]
    else:
        accounts = sorted({a for f in fs for a in f["entities"]["accounts"] if _is_account(a)})
    evidence = sorted({e for f in fs for e in f["evidence"]})
    ev_edges = source.execute(
        edges_expr(source.events).filter(lambda t: t.event_id.isin(evidence))
        if evidence
        else edges_expr(source.events).limit(0)
    )
    if kind == "host":  # the host itself and the sources that reached it
        host = id.lower()
        ends = zip(*_cols(ev_edges, "user", "src", "dst"), strict=True)
        near = [(u, s) for u, s, d in ends if host in (s, d)]
        candidates = {host} | {s for _, s in near}
        accounts = sorted(set(accounts) | {u for u, _ in near})
    else:
        candidates = set(ev_edges.column("src").to_pylist())
        if kind == "site":
            candidates = {h for h in candidates if resolver.endpoint(h, None).site == id}
    edges = source.execute(edges_expr(source.events, users=accounts)) if accounts else ev_edges
    data_start, data_end = _data_span(source)
    if fs:
        start = min(f["first_seen"] for f in fs)
        end = max(f["last_seen"] for f in fs) + TAIL
    else:
        start, end = data_start, data_end
    if data_end is not None:
        end = min(end, data_end)
    hosts = seed_sources(edges, accounts, candidates, start - LEAD)
    if not hosts and kind != "incident":
        hosts = sorted(candidates & set(edges.column("src").to_pylist()))
    if not hosts:  # every source was routine: keep the evidence's sources rather than nothing
        hosts = sorted(candidates)
    seeds = Seeds(
        kind=kind,
        id=id,
        accounts=accounts,
        hosts=hosts,
        start=start,
        end=end,
        finding_ids=[f["finding_id"] for f in fs],
    )
    more = source.execute(edges_expr(source.events, hosts=hosts)) if hosts else edges.slice(0, 0)
    return seeds, _union(edges, more), evidence


def _cols(t: pa.Table, *names: str) -> list[list[Any]]:
    return [t.column(n).to_pylist() for n in names]


def _union(a: pa.Table, b: pa.Table) -> pa.Table:
    seen = set(a.column("event_id").to_pylist())
    keep = [i for i, e in enumerate(b.column("event_id").to_pylist()) if e not in seen]
    return pa.concat_tables([a, b.take(pa.array(keep, pa.int64())).cast(a.schema)])


def _data_span(source: Source) -> tuple[datetime, datetime]:
    e = source.events
    row = source.execute(e.aggregate(lo=e.ts.min(), hi=e.ts.max())).to_pylist()[0]
    if row["lo"] is None:
        raise AshiatoError(f"{source.store.root}: the store holds no events")
    return row["lo"], row["hi"]
