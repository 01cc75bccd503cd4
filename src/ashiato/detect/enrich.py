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
) -> ibis.Table:
    """Add src_/dst_ site, role, asset, country, timezone and privileged/account_kind/groups."""
    resolver = Resolver(inventory) if inventory is not None else None
    pairs: set[tuple[str | None, str | None]] = set()
    if resolver is not None:
        for h, i in (("src_host", "src_ip"), ("dst_host", "dst_ip")):
            got = execute(events.select(host=events[h], ip=events[i]).distinct())
            pairs.update(zip(got["host"].to_pylist(), got["ip"].to_pylist(), strict=True))
        endpoints = resolver.endpoints_table(sorted(pairs, key=lambda p: (p[0] or "", p[1] or "")))
        accounts = resolver.accounts_table()
    else:
        endpoints = ENDPOINT.empty_table()
        accounts = ACCOUNT.empty_table()
    ep = ibis.memtable(endpoints)
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
