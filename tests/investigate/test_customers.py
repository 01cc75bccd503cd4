"""Customers: exactly those of the data stores the ground-truth events touched."""

from __future__ import annotations

import duckdb
import pytest

from ashiato.investigate.customers import share_name
from ashiato.store import Store
from tests.investigate.conftest import Estate


def _truth_customers(estate: Estate, campaign: str) -> set[str]:
    ids = sorted(estate.truth_events[campaign])
    glob = Store(estate.store).layout.events_glob()
    con = duckdb.connect()
    con.execute("CREATE TABLE ids (event_id VARCHAR)")
    con.executemany("INSERT INTO ids VALUES (?)", [(i,) for i in ids])
    rows = con.execute(
        f"""SELECT kind, log_host, share FROM read_parquet('{glob}') JOIN ids USING (event_id)
            WHERE kind IN ('share_access', 'share_object', 'logon')"""
    ).fetchall()
    out: set[str] = set()
    for ds in estate.inventory.data_stores:
        shares = {s.lower() for s in ds.shares}
        for kind, host, share in rows:
            if host != ds.host:
                continue
            if (ds.kind == "database" and kind == "logon") or share_name(share) in shares:
                out |= set(ds.customers)
    return out


@pytest.mark.parametrize("campaign", ["c1-valid-admin-th-id-ph", "svc-compromise"])
def test_customer_list_equals_truth(estate: Estate, campaign: str) -> None:
    got = {d.customer for d in estate.of(campaign).data}
    want = _truth_customers(estate, campaign)
    assert want, "the scenario touches customer data"
    assert got == want


def test_each_row_cites_evidence_in_time(estate: Estate) -> None:
    rows = estate.of("c1-valid-admin-th-id-ph").data
    mal = estate.truth_events["c1-valid-admin-th-id-ph"]
    assert rows
    for d in rows:
        assert d.first_access <= d.last_access
        assert d.event_ids
        assert len(set(d.event_ids) & mal) / len(d.event_ids) >= 0.9
    names = {d.data_store for d in rows}
    assert "jp-osa-fs01-customerdata" in names


def test_no_customers_when_only_design_data(estate: Estate) -> None:
    """The insider copied design drawings: no customer data store is named."""
    inv = estate.of("insider-upload")
    assert {d.customer for d in inv.data} == _truth_customers(estate, "insider-upload")
