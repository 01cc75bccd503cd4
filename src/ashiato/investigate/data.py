"""The small tables an investigation works on, cut out of the event store by the engine.

Investigations touch a handful of accounts and hosts, so every question starts with one engine
query that returns a few thousand rows (credential edges, flows, per-day counts); the graph work
and the verdicts then run in Python over those Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ashiato.detect.enrich import enrich
from ashiato.events import EventKind
from ashiato.inventory.model import Inventory
from ashiato.store import Store

EDGE_KINDS = (
    EventKind.LOGON,
    EventKind.EXPLICIT_CREDENTIALS,
    EventKind.SHARE_ACCESS,
    EventKind.SHARE_OBJECT,
    EventKind.KERBEROS_SERVICE,
    EventKind.KERBEROS_TGT,
)
"""Kinds that show an account's credentials reaching a destination host from a source host."""

EDGE_COLUMNS = (
    "event_id",
    "ts",
    "kind",
    "event_code",
    "user",
    "src",
    "dst",
    "src_site",
    "dst_site",
    "dst_role",
    "logon_type",
    "auth_package",
    "share",
    "path",
    "log_host",
)


@dataclass
class Source:
    """An open store: the engine connection, the enriched events and the inventory."""

    store: Store
    inventory: Inventory
    con: Any
    events: ir.Table
    """Access events joined with inventory attributes (``detect.enrich``), ``raw`` dropped."""
    raw: ir.Table
    """The access events as stored (with ``raw``), for what enrichment drops."""

    @classmethod
    def open(cls, store: str | Store, inventory: Inventory) -> Source:
        """Connect to ``store`` and prepare the enriched event view."""
        st = store if isinstance(store, Store) else Store(store)
        con = st.connect()
        raw = st.events(con)
        enriched = enrich(con, raw, inventory, cls._executor(con))
        view = con.create_view("inv_events", enriched, overwrite=True)
        return cls(st, inventory, con, view, raw)

    @staticmethod
    def _executor(con: Any) -> Callable[[ibis.Expr], pa.Table]:
        def execute(expr: ibis.Expr) -> pa.Table:
            out: pa.Table = con.to_pyarrow(expr)
            return out

        return execute

    def execute(self, expr: ibis.Expr) -> pa.Table:
        """Run an Ibis expression on the store's engine and return Arrow."""
        out: pa.Table = self.con.to_pyarrow(expr)
        return out

    def close(self) -> None:
        self.con.disconnect()


def edges_expr(
    events: ir.Table,
    *,
    users: Iterable[str] | None = None,
    hosts: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ir.Table:
    """Successful credential uses as (source host -> destination host) edges, one per event.

    The source is the resolved asset behind the source IP (4624 carries only the IP), else the
    host name or the IP; the destination is the resolved target, else the recording host.
    ``users`` keeps edges by those accounts, ``hosts`` edges whose source is one of them (either
    filter matches when both are given).
    """
    e = events
    src = e.src_asset.coalesce(e.src_host, e.src_ip)
    dst = e.dst_asset.coalesce(e.dst_host, e.log_host)
    t = e.filter(
        e.kind.isin([k.value for k in EDGE_KINDS]),
        e.outcome == "success",
        e.user.notnull(),
        ~e.user.endswith("$"),
    ).mutate(src=src, dst=dst)
    t = t.filter(t.src.notnull(), t.dst.notnull(), t.src != t.dst)
    conds = []
    if users is not None:
        conds.append(t.user.isin(sorted(set(users))))
    if hosts is not None:
        conds.append(t.src.isin(sorted(set(hosts))))
    if conds:
        cond = conds[0]
        for c in conds[1:]:
            cond = cond | c
        t = t.filter(cond)
    if start is not None:
        t = t.filter(t.ts >= start)
    if end is not None:
        t = t.filter(t.ts <= end)
    return t.select(*EDGE_COLUMNS).order_by(["ts", "event_id"])


def host_events_expr(
    events: ir.Table, hosts: Iterable[str], start: datetime | None, end: datetime | None
) -> ir.Table:
    """Every event recorded on, coming from or going to one of ``hosts`` in a time range."""
    e = events
    hs = sorted(set(hosts))
    src = e.src_asset.coalesce(e.src_host)
    dst = e.dst_asset.coalesce(e.dst_host)
    t = e.filter(src.isin(hs) | dst.isin(hs) | e.log_host.isin(hs))
    if start is not None:
        t = t.filter(t.ts >= start)
    if end is not None:
        t = t.filter(t.ts <= end)
    return t
