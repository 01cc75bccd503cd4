"""FileWriter: day partitions, bounded files sorted by (ts, event_id), rejects, abort, orphans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.events import ACCESS_EVENT, REJECTION
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import ManifestEntry, write_manifest
from ashiato.store.writer import FileWriter, remove_orphans

SHA = "ab" * 32
T0 = datetime(2026, 9, 8, 23, 0, tzinfo=UTC)


def batch(offsets: list[int], step_min: int = 10) -> pa.RecordBatch:
    """Events at T0 + offset*step_min minutes (so a batch can cross midnight), newest first."""
    n = len(offsets)
    cols = {f.name: pa.nulls(n, f.type) for f in ACCESS_EVENT}
    cols["event_id"] = pa.array([f"{SHA[:16]}-{o}" for o in offsets])
    cols["ts"] = pa.array(
        [T0 + timedelta(minutes=o * step_min) for o in offsets], ACCESS_EVENT.field("ts").type
    )
    cols["source_offset"] = pa.array(offsets, pa.int64())
    cols["kind"] = pa.array(["logon"] * n)
    cols["raw"] = pa.array([[("k", str(o))] for o in offsets], ACCESS_EVENT.field("raw").type)
    return pa.RecordBatch.from_arrays([cols[f.name] for f in ACCESS_EVENT], schema=ACCESS_EVENT)


def test_days_flush_and_sort(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path)
    layout.ensure()
    w = FileWriter(layout, SHA, "p", "/in/x", flush_rows=5)
    w.add(batch(list(range(11, 0, -1))), [(12, "bad", "x"), (13, "bad", "y")])
    w.add(batch([12, 13]))
    out = w.finish()
    assert (out.records_stored, out.records_rejected, out.reasons) == (13, 2, {"bad": 2})
    assert out.first_ts == T0 + timedelta(minutes=10)
    assert out.last_ts == T0 + timedelta(minutes=130)
    days = sorted({p.split("/")[1] for p in out.partitions if p.startswith("events/")})
    assert days == ["day=2026-09-08", "day=2026-09-09"]
    assert out.partitions[-1] == f"rejects/{SHA[:16]}.parquet"
    assert len(out.partitions) == len(out.parquet_sha256)
    total = 0
    for rel in out.partitions[:-1]:
        t = pq.read_table(tmp_path / rel)
        assert t.schema.equals(ACCESS_EVENT, check_metadata=False)
        rows = t.select(["ts", "event_id"]).to_pylist()
        assert rows == sorted(rows, key=lambda r: (r["ts"], r["event_id"]))
        day = rel.split("/")[1].removeprefix("day=")
        assert {r["ts"].date().isoformat() for r in rows} == {day}
        total += len(rows)
    assert total == 13
    rej = pq.read_table(tmp_path / out.partitions[-1])
    assert rej.schema.equals(REJECTION, check_metadata=False)
    assert rej.column("source_offset").to_pylist() == [12, 13]


def test_abort_removes_everything(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path)
    layout.ensure()
    w = FileWriter(layout, SHA, "p", "/in/x", flush_rows=2)
    w.add(batch([1, 2, 3]), [(4, "bad", "")])
    w.abort()
    assert list(layout.events_dir.rglob("*.parquet")) == []
    assert list(layout.rejects_dir.iterdir()) == []
    assert list(layout.tmp_dir.iterdir()) == []


def test_remove_orphans_keeps_manifested_files(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path)
    layout.ensure()
    kept = FileWriter(layout, SHA, "p", "/in/x")
    kept.add(batch([1]), [(2, "bad", "")])
    res = kept.finish()
    write_manifest(
        layout,
        ManifestEntry(
            SHA,
            "/in/x",
            1,
            "p",
            2,
            1,
            1,
            0,
            res.first_ts,
            res.last_ts,
            T0,
            res.partitions,
            res.parquet_sha256,
        ),
    )
    orphan_sha = "cd" * 32
    orphan = FileWriter(layout, orphan_sha, "p", "/in/y")
    orphan.add(batch([1]), [(2, "bad", "")])
    orphan.finish()  # killed before its manifest row
    (layout.tmp_dir / "x.tmp").write_bytes(b"")
    removed = remove_orphans(layout)
    assert len(removed) == 3
    left = sorted(p.name for p in tmp_path.rglob("*.parquet"))
    assert left == sorted([f"{SHA}.parquet", f"{SHA[:16]}-0.parquet", f"{SHA[:16]}.parquet"])
