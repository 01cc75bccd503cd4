"""Worker processes: forked from the caller when that is safe, from a fork server otherwise,
and either way the same rows land in the store as when one process does all the work."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import duckdb
import pytest
from ingest_samples import NOW, ecs_files

from ashiato.ingest import IngestReport, ingest, pipeline


def test_fork_only_while_nothing_else_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "duckdb", raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert pipeline._pool_context().get_start_method() == "fork"
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # a progress bar's thread, say
    assert pipeline._pool_context().get_start_method() == "forkserver"
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "duckdb", types.ModuleType("duckdb"))  # native threads
    assert pipeline._pool_context().get_start_method() == "forkserver"


def _inputs(tmp_path: Path) -> list[Path]:
    out = ecs_files(tmp_path / "in", 6)
    out.append(tmp_path / "in" / "copy.json")  # the same bytes under another name: parsed once
    out[-1].write_bytes(out[0].read_bytes())
    return out


def _rows(store: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(
        f"SELECT * EXCLUDE (day) FROM read_parquet('{store}/events/day=*/*.parquet',"
        " hive_partitioning=true) ORDER BY event_id"
    ).fetchall()


def _summary(rep: IngestReport) -> list[tuple[str, str, int, int]]:
    return [(Path(f.path).name, f.status, f.records_read, f.records_stored) for f in rep.files]


@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_workers_store_what_one_process_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    paths = _inputs(tmp_path)
    alone = ingest(paths, tmp_path / "alone", workers=1, clock=lambda: NOW)
    if start == "fork":
        monkeypatch.delitem(sys.modules, "duckdb", raising=False)
        monkeypatch.setattr(threading, "active_count", lambda: 1)
    else:
        monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert pipeline._pool_context().get_start_method() == start
    pooled = ingest(paths, tmp_path / "pooled", workers=2, clock=lambda: NOW)
    monkeypatch.undo()
    assert _summary(pooled) == _summary(alone)
    assert pooled.records_stored == alone.records_stored > 0
    assert _rows(tmp_path / "pooled") == _rows(tmp_path / "alone")
