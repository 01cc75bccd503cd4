"""Events per kind are counted per day and kept: a run scans only the days whose files changed,
and gives what one scan of the whole store gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.detect.kinds import kind_counts
from ashiato.events import ACCESS_EVENT
from ashiato.store import Store
from ashiato.store.layout import StoreLayout
from tests.conftest import event, ts


class Recording:
    """A DuckDB connection that remembers the SQL it ran."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.sql: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.sql.append(sql)
        return self.con.execute(sql, *args)


def _file(root: Path, rows: list[dict[str, Any]], name: str) -> None:
    d = StoreLayout(root).day_dir(rows[0]["ts"].strftime("%Y-%m-%d"))
    d.mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(rows):
        r.setdefault("event_id", f"{name}-{i}")
        r.setdefault("source_offset", i + 1)
    pq.write_table(pa.Table.from_pylist(rows, schema=ACCESS_EVENT), d / f"{name}.parquet")


def test_counts_are_kept_per_day(write_events: Any) -> None:
    root = write_events(
        [event(ts=ts(1, 8)), event(ts=ts(1, 9), kind="privilege_grant"), event(ts=ts(2, 23))]
    )
    st = Store(root)
    raw = Recording()
    assert kind_counts(st.layout, raw) == st.kind_counts()
    _file(root, [event(ts=ts(3, 1)), event(ts=ts(3, 2), kind="kerberos_tgt")], "late")
    raw.sql.clear()
    got = kind_counts(st.layout, raw)
    assert got == st.kind_counts()
    assert {k: n for k, n, _, _ in got} == {
        "kerberos_tgt": 1,
        "logon": 3,
        "privilege_grant": 1,
    }
    assert len(raw.sql) == 1 and "day=2026-09-03" in raw.sql[0]
    assert "day=2026-09-01" not in raw.sql[0] and "day=2026-09-02" not in raw.sql[0]
    raw.sql.clear()
    assert kind_counts(st.layout, raw) == got and raw.sql == []  # nothing new: no scan
    # a day's file replaced (another size): that day is counted again
    _file(root, [event(ts=ts(1, 8))], "t-0")
    raw.sql.clear()
    got = kind_counts(st.layout, raw)
    assert got == st.kind_counts() and "day=2026-09-01" in raw.sql[0]
