"""ingest(): discovery, sniffing, idempotence, crash recovery, parallelism, the report, DuckDB."""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from ingest_samples import NOW, ZEEK_HEADER, bulk_ecs, bulk_zeek, zeek_line
from rich.console import Console

from ashiato.errors import IngestError
from ashiato.ingest import IngestReport, ProgressUpdate, ingest
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest, read_rejects


def run(paths: list[Path], store: Path, **kw: object) -> IngestReport:
    return ingest(paths, store, clock=lambda: NOW, **kw)  # type: ignore[arg-type]


def events(store: Path) -> list[tuple[object, ...]]:
    glob = StoreLayout(store).events_glob()
    return duckdb.sql(
        f"select event_id, ts, kind, src_ip, day from read_parquet('{glob}', "
        "hive_partitioning=true) order by event_id"
    ).fetchall()


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "win.json").write_bytes(bulk_ecs(300) + b"not json\n")
    (d / "sub" / "conn.log.gz").write_bytes(gzip.compress(bulk_zeek(200)))
    (d / "notes.txt").write_text("hello\n")
    (d / ".hidden.json").write_bytes(bulk_ecs(5))
    return d


def test_ingest_directory(inputs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    updates: list[ProgressUpdate] = []
    report = run([inputs], store, workers=1, progress=updates.append)
    by_name = {Path(f.path).name: f for f in report.files}
    assert set(by_name) == {"win.json", "conn.log.gz", "notes.txt"}  # hidden file skipped
    win, conn, notes = by_name["win.json"], by_name["conn.log.gz"], by_name["notes.txt"]
    assert (win.parser, win.records_read, win.records_stored, win.records_rejected) == (
        "ecs_json",
        301,
        300,
        1,
    )
    assert dict(win.rejection_reasons) == {"invalid JSON": 1}
    assert (conn.parser, conn.records_stored, conn.status) == ("zeek_conn", 200, "ingested")
    assert (notes.status, notes.reason) == ("unrecognised", "no parser recognises this file")
    assert (report.records_read, report.records_stored, report.records_rejected) == (501, 500, 1)
    assert updates[-1] == ProgressUpdate(3, 3, 501, 1, updates[-1].current)

    rows = events(store)
    assert len(rows) == 500
    assert len({r[0] for r in rows}) == 500
    manifest = read_manifest(StoreLayout(store))
    assert manifest.num_rows == 2
    assert sorted(manifest.column("records_read").to_pylist()) == [200, 301]
    rejects = read_rejects(StoreLayout(store))
    assert rejects.column("reason").to_pylist() == ["invalid JSON"]
    assert rejects.column("source_offset").to_pylist() == [301]
    # every listed file exists with the recorded hash
    layout = StoreLayout(store)
    for parts, hashes in zip(
        manifest.column("partitions").to_pylist(),
        manifest.column("parquet_sha256").to_pylist(),
        strict=True,
    ):
        from ashiato.store.atomic import sha256_file

        assert [sha256_file(layout.root / p) for p in parts] == hashes
    # DuckDB reads the store with the right types
    types = duckdb.sql(
        f"select typeof(ts), typeof(event_code), typeof(raw), typeof(day) from read_parquet("
        f"'{layout.events_glob()}', hive_partitioning=true) limit 1"
    ).fetchall()
    assert types[0] == ("TIMESTAMP WITH TIME ZONE", "INTEGER", "MAP(VARCHAR, VARCHAR)", "DATE")

    text = Console(width=160, record=True)
    text.print(report)
    out = text.export_text()
    assert "win.json" in out and "invalid JSON" in out and "total" in out


def test_reingest_is_idempotent(inputs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run([inputs], store, workers=1)
    before = events(store)
    copy = tmp_path / "copy.json"
    copy.write_bytes((inputs / "win.json").read_bytes())
    again = run([inputs, copy], store, workers=1)
    statuses = {Path(f.path).name: f.status for f in again.files}
    assert statuses == {
        "win.json": "already ingested",
        "conn.log.gz": "already ingested",
        "notes.txt": "unrecognised",
        "copy.json": "already ingested",
    }
    assert again.records_stored == 0
    assert events(store) == before


def test_crash_leftovers_are_removed(inputs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run([inputs / "win.json"], store, workers=1)
    layout = StoreLayout(store)
    # simulate a killed run: a file with events written but no manifest row, and tmp junk
    killed = run([inputs / "sub"], store, workers=1).files[0]
    (layout.manifest_dir / f"{killed.sha256}.parquet").unlink()
    (layout.tmp_dir / "junk.parquet.tmp").write_bytes(b"half")
    stray = layout.day_dir("2026-09-08") / "ffffffffffffffff-0.parquet"
    stray.write_bytes(b"junk")
    report = run([inputs], store, workers=1)
    assert not stray.exists()
    assert list(layout.tmp_dir.iterdir()) == []
    status = {Path(f.path).name: f.status for f in report.files}
    assert status["conn.log.gz"] == "ingested"
    assert status["win.json"] == "already ingested"
    rows = events(store)
    assert len(rows) == 500 == len({r[0] for r in rows})


def test_parallel_equals_inline(inputs: Path, tmp_path: Path) -> None:
    run([inputs], tmp_path / "a", workers=1)
    run([inputs], tmp_path / "b", workers=2)
    assert events(tmp_path / "a") == events(tmp_path / "b")
    for name in ("a", "b"):
        files = sorted(
            p.relative_to(tmp_path / name).as_posix()
            for p in (tmp_path / name / "events").rglob("*.parquet")
        )
        assert files == sorted(
            p.relative_to(tmp_path / "a").as_posix()
            for p in (tmp_path / "a" / "events").rglob("*.parquet")
        )


def test_fmt_forces_parser_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "conn.txt"
    f.write_text(ZEEK_HEADER.replace("#path\tconn\n", "") + zeek_line())
    report = run([f], tmp_path / "s", fmt="ecs_json", workers=1)
    assert report.files[0].parser == "ecs_json"
    assert report.files[0].records_rejected == 8  # header lines are not JSON either
    assert report.files[0].records_stored == 0
    with pytest.raises(IngestError, match="unknown format 'nope'"):
        run([f], tmp_path / "s", fmt="nope")
    with pytest.raises(IngestError, match=r"missing\.log"):
        run([tmp_path / "missing.log"], tmp_path / "s")


def test_store_inside_input_dir_is_not_ingested(tmp_path: Path) -> None:
    (tmp_path / "conn.log").write_bytes(bulk_zeek(10))
    run([tmp_path], tmp_path / "store", workers=1)
    again = run([tmp_path], tmp_path / "store", workers=1)
    assert [Path(f.path).name for f in again.files] == ["conn.log"]
