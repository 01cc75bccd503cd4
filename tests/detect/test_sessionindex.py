"""A day's session ids are read from the raw fields once, kept, and read again when the day's
files change; only the store's latest days are kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.detect import sessionindex
from ashiato.detect.sessionindex import SessionIndex
from ashiato.events import ACCESS_EVENT
from ashiato.store.layout import StoreLayout
from tests.conftest import ts
from tests.detect.test_sessions import rdp_logon, switch


def _logon(day: int, lid: str, eid: str) -> dict:
    return rdp_logon(ts(day, 6), lid, event_id=eid)


def _index(root: Path) -> SessionIndex:
    con = ibis.duckdb.connect()
    events = con.read_parquet(f"{root}/events/day=*/*.parquet", hive_partitioning=False)
    return SessionIndex(StoreLayout(root), lambda: events, con.to_pyarrow)


def _rows(idx: SessionIndex, first: int, last: int) -> list[tuple]:
    t = idx.table(ts(first, 0), ts(last, 0) + timedelta(days=1)).to_pyarrow()
    cols = [t[c].to_pylist() for c in ("event_id", "kind", "lid", "subject")]
    return sorted(zip(*cols, strict=True), key=str)


def test_a_day_is_read_once_and_again_when_its_files_change(write_events, tmp_path) -> None:
    rows = [_logon(3, "0x575672", "l3"), switch(ts(3, 7), "R.Setiawan", "0X575672")]
    rows += [_logon(4, "0xAB", "l4")]
    root = write_events(rows)
    idx = _index(root)
    got = _rows(idx, 3, 4)
    assert got == [
        ("e000001", "explicit_credentials", "0x575672", "r.setiawan"),
        ("l3", "logon", "0x575672", None),
        ("l4", "logon", "0xab", None),
    ]
    assert idx.extracted == 2
    again = _index(root)
    assert _rows(again, 3, 4) == got and again.extracted == 0, "kept"
    # late data: a new file in day 4
    late = _logon(4, "0xCD", "late")
    late["source_offset"] = 1
    pq.write_table(
        pa.Table.from_pylist([late], schema=ACCESS_EVENT),
        StoreLayout(root).day_dir("2026-09-04") / "t-1.parquet",
    )
    third = _index(root)
    assert ("late", "logon", "0xcd", None) in _rows(third, 3, 4)
    assert third.extracted == 1, "only the changed day"


def test_only_the_latest_days_are_kept(write_events, monkeypatch) -> None:
    monkeypatch.setattr(sessionindex, "KEEP_DAYS", 2)
    root = write_events([_logon(d, f"0x{d}", f"l{d}") for d in (1, 2, 3, 4)])
    idx = _index(root)
    assert len(_rows(idx, 1, 4)) == 4
    kept = sorted(p.stem for p in idx.root.glob("*.parquet"))
    assert kept == ["2026-09-03", "2026-09-04"]
