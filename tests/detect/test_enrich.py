"""Enrichment without an inventory adds the columns an empty inventory would, without joins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.detect.enrich import enrich
from ashiato.inventory import Inventory
from ashiato.store import Store
from tests.conftest import event, ts


def test_no_inventory_is_an_empty_inventory(
    write_events: Callable[[list[dict[str, Any]]], Path],
) -> None:
    root = write_events(
        [
            event(ts=ts(3, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
            event(ts=ts(4, 2), user="x", src_host="pc1", src_ip=None, dst_host=None),
        ]
    )
    st = Store(root)
    con = st.connect()
    events = st.events(con)
    bare = enrich(con, events, None, con.to_pyarrow)
    empty = enrich(con, events, Inventory(), con.to_pyarrow)
    assert bare.schema() == empty.schema()
    got, want = con.to_pyarrow(bare), con.to_pyarrow(empty)
    assert got.schema == want.schema
    assert got.sort_by("ts").to_pylist() == want.sort_by("ts").to_pylist()
    assert set(got.column("privileged").to_pylist()) == {False}
