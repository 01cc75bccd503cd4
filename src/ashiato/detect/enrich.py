"""Join access events with what the inventory says about their endpoints and accounts.

Resolution happens at query time, per run: the engine returns the distinct (host, ip) endpoints,
the inventory resolves them in Python (small), and the result is joined back as a small table.
Without an inventory the same columns exist but are null, so inventory-free detectors still run.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import pyarrow as pa

from ashiato.inventory.model import Inventory
from ashiato.inventory.resolve import ACCOUNT, ENDPOINT, Resolver


def _key(host: ibis.Value, ip: ibis.Value) -> ibis.Value:
    return host.fill_null("") + "|" + ip.fill_null("")


def enrich(
    con: object,
    events: ibis.Table,
    inventory: Inventory | None,
    execute: Callable[[ibis.Expr], pa.Table],
    endpoints: ibis.Table | None = None,
) -> ibis.Table:
    """Add src_/dst_ site, role, asset, country, timezone and privileged/account_kind/groups.

    ``endpoints``: the resolved endpoints (an ENDPOINT table) when the caller keeps them (the
    day-by-day fold resolves each day's new ones and compiles this join once); else the events'
    distinct endpoints are read and resolved here."""
    if inventory is None:
        return _unresolved(events.drop("raw"))
    resolver = Resolver(inventory)
    if endpoints is None:
        ends = events.select(host=events.src_host, ip=events.src_ip)
        got = execute(ends.union(events.select(host=events.dst_host, ip=events.dst_ip)))
        pairs = set(zip(got["host"].to_pylist(), got["ip"].to_pylist(), strict=True))
        resolved = resolver.endpoints_table(sorted(pairs, key=lambda p: (p[0] or "", p[1] or "")))
        endpoints = ibis.memtable(resolved)
    accounts = resolver.accounts_table()
    ep = endpoints
    ep = ep.mutate(k=_key(ep.host, ep.ip)).drop("host", "ip")
    acc = ibis.memtable(accounts)

    # Raw source fields stay in the store: behavioural detectors never need them, and they are
    # most of an event's bytes.
    events = events.drop("raw")
    t = events.mutate(
        _sk=_key(events.src_host, events.src_ip), _dk=_key(events.dst_host, events.dst_ip)
    )
    src = ep.rename({f"src_{c}": c for c in ("site", "role", "asset", "country", "timezone")})
    dst = ep.rename({f"dst_{c}": c for c in ("site", "role", "asset", "country", "timezone")})
    t = t.left_join(src, t._sk == src.k).drop("k")
    t = t.left_join(dst, t._dk == dst.k).drop("k")
    t = t.left_join(acc, t.user == acc.user).drop("user_right")
    return t.mutate(privileged=t.privileged.fill_null(False)).drop("_sk", "_dk")


def _unresolved(events: ibis.Table) -> ibis.Table:
    """``enrich`` without an inventory: the same columns in the same order, null (``privileged``
    false), without joining empty tables (and without pyarrow's pandas probe for them)."""
    sides = {
        f"{side}_{c}": ibis.null().cast(_dtype(ENDPOINT, c))
        for side in ("src", "dst")
        for c in ("site", "role", "asset", "country", "timezone")
    }
    accounts = {f.name: ibis.null().cast(_dtype(ACCOUNT, f.name)) for f in ACCOUNT}
    del accounts["user"]
    accounts["privileged"] = ibis.literal(False)
    return events.mutate(**sides, **accounts)


def _dtype(schema: pa.Schema, name: str) -> ibis.DataType:
    return ibis.dtype(schema.field(name).type)
