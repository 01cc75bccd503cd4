"""Store.kind_counts: what a detect run reads first to know which detectors have anything to do;
Store.load_events: the events a run reads, in memory for a small store, in place for a large."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import event, ts

from ashiato.events import ACCESS_EVENT
from ashiato.store import Store, tables


def test_kind_counts(write_events: Callable[[list[dict[str, Any]]], Path]) -> None:
    root = write_events(
        [
            event(ts=ts(3, 1) + timedelta(microseconds=7)),
            event(ts=ts(5, 2), kind="account_change"),
            event(ts=ts(4, 3)),
        ]
    )
    assert Store(root).kind_counts() == [
        ("account_change", 1, ts(5, 2), ts(5, 2)),
        ("logon", 2, ts(3, 1) + timedelta(microseconds=7), ts(4, 3)),
    ]


def test_kind_counts_of_an_empty_store(tmp_path: Path) -> None:
    assert Store(tmp_path, create=True).kind_counts() == []


@pytest.mark.parametrize("limit", [tables.EVENTS_IN_MEMORY_MAX_BYTES, 0], ids=["memory", "view"])
def test_load_events_in_memory_or_in_place(
    write_events: Callable[[list[dict[str, Any]]], Path],
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
) -> None:
    root = write_events(
        [event(ts=ts(3, 1), user="a"), event(ts=ts(5, 2), kind="account_change", user="b")]
    )
    monkeypatch.setattr(tables, "EVENTS_IN_MEMORY_MAX_BYTES", limit)
    st = Store(root)
    con = st.raw_connect()
    name = st.load_events(con)
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    assert kind == (("LOCAL TEMPORARY" if limit else "VIEW"),)
    assert st.kind_counts(con, name) == st.kind_counts()
    got = con.sql(f"SELECT * FROM {name} ORDER BY ts").to_arrow_table()
    assert "day" not in got.column_names
    assert got.column("user").to_pylist() == ["a", "b"]


def test_load_events_of_an_empty_store(tmp_path: Path) -> None:
    st = Store(tmp_path, create=True)
    con = st.raw_connect()
    got = con.sql(f"SELECT * FROM {st.load_events(con)}").to_arrow_table()
    assert got.num_rows == 0 and got.column_names == ACCESS_EVENT.names
    assert st.kind_counts(con, "store_events") == []
