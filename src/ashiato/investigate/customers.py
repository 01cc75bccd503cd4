"""Data and customers: which inventory data stores the intruder touched, and whose data they hold.

A share data store counts as touched when a campaign edge opened one of its shares on its host;
a database data store when a campaign edge logged on to its host. Each customer row keeps the
first and last access and the event ids, which the notification letters cite.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pyarrow as pa

from ashiato.inventory.model import DataStore, Inventory
from ashiato.investigate.model import DataAccess


def share_name(share: str | None) -> str | None:
    """``\\\\*\\CustomerData`` -> ``customerdata`` (compared case-insensitively)."""
    if not share:
        return None
    return share.rstrip("\\").rsplit("\\", 1)[-1].lower() or None


def _touches(ds: DataStore, r: dict[str, Any]) -> bool:
    if r["dst"] != ds.host:
        return False
    if ds.kind == "database":
        return True
    name = share_name(r["share"])
    return name is not None and name in {s.lower() for s in ds.shares}


def data_accessed(
    edges: pa.Table, campaign_event_ids: Collection[str], inventory: Inventory
) -> list[DataAccess]:
    """One row per (customer, data store) that campaign edges touched, oldest access first."""
    wanted = set(campaign_event_ids)
    rows = [r for r in edges.to_pylist() if r["event_id"] in wanted]
    names = {c.id: c.name for c in inventory.customers}
    out: list[DataAccess] = []
    for ds in inventory.data_stores:
        hits = sorted((r for r in rows if _touches(ds, r)), key=lambda r: (r["ts"], r["event_id"]))
        if not hits:
            continue
        for cust in ds.customers:
            out.append(
                DataAccess(
                    customer=cust,
                    customer_name=names.get(cust, cust),
                    data_store=ds.name,
                    host=ds.host,
                    data_categories=list(ds.data_categories),
                    first_access=hits[0]["ts"],
                    last_access=hits[-1]["ts"],
                    event_ids=[r["event_id"] for r in hits],
                )
            )
    out.sort(key=lambda d: (d.first_access, d.customer, d.data_store))
    return out


def touched_data_stores(
    edges: pa.Table, campaign_event_ids: Collection[str], inventory: Inventory
) -> list[str]:
    """Names of data stores touched, with or without customers (finance, design...)."""
    wanted = set(campaign_event_ids)
    rows = [r for r in edges.to_pylist() if r["event_id"] in wanted]
    return [ds.name for ds in inventory.data_stores if any(_touches(ds, r) for r in rows)]
