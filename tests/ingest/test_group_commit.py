"""Grouped commits: many small inputs made durable a step at a time for the whole group, never
a manifest row before its events nor a chain link before its row; a link that cannot be
written leaves that input and the rest of its group unstored, and a rerun stores them once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from ingest_samples import NOW, ecs_files

from ashiato.ingest import IngestReport, ingest, pipeline
from ashiato.store import atomic
from ashiato.store.chain import ChainWriter
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest
from ashiato.store.verify import verify


def _inputs(tmp_path: Path, n: int = 4) -> list[Path]:
    return ecs_files(tmp_path / "in", n)


def _run(paths: list[Path], store: Path, **kw: Any) -> IngestReport:
    return ingest(paths, store, clock=lambda: NOW, **kw)


def test_each_step_is_durable_for_the_group_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    monkeypatch.setattr(pipeline, "can_sync_filesystem", lambda: True)
    monkeypatch.setattr(pipeline, "make_durable", lambda *_: steps.append("durable"))
    write = pipeline.write_manifest

    def manifest(*a: Any, **kw: Any) -> str:
        assert kw["sync"] is False
        steps.append("row")
        return write(*a, **kw)

    append = ChainWriter.append

    def link(self: ChainWriter, *a: Any, **kw: Any) -> dict[str, Any]:
        assert kw["sync"] is False
        steps.append("link")
        return append(self, *a, **kw)

    monkeypatch.setattr(pipeline, "write_manifest", manifest)
    monkeypatch.setattr(ChainWriter, "append", link)
    rep = _run(_inputs(tmp_path), tmp_path / "store", workers=1)
    assert all(f.status == "ingested" for f in rep.files)
    assert steps == ["durable", *["row"] * 4, "durable", *["link"] * 4, "durable"]


def test_groups_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []
    monkeypatch.setattr(pipeline, "GROUP_INPUTS", 2)
    monkeypatch.setattr(pipeline, "make_durable", lambda *_: steps.append("durable"))
    monkeypatch.setattr(pipeline, "can_sync_filesystem", lambda: True)
    rep = _run(_inputs(tmp_path), tmp_path / "store", workers=1)
    assert len(rep.files) == 4 and all(f.status == "ingested" for f in rep.files)
    assert steps == ["durable"] * 4  # one a group of two, then the last rows, the last links


def test_a_link_that_fails_leaves_the_rest_of_its_group_unstored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _inputs(tmp_path)
    paths[3].write_bytes(paths[1].read_bytes()[: len(paths[1].read_bytes()) // 2] + b"\n")
    calls = {"n": 0}
    append = ChainWriter.append

    def flaky(self: ChainWriter, *a: Any, **kw: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return append(self, *a, **kw)

    monkeypatch.setattr(ChainWriter, "append", flaky)
    store = tmp_path / "store"
    rep = _run(paths, store, workers=1)
    status = [f.status for f in rep.files]
    assert status[0] == "ingested"
    assert status[1] == "failed: OSError: [Errno 28] No space left on device"
    # win3 repeats half of win1: it was judged against win1, so it goes too
    assert status[2:] == ["failed: an earlier link failed"] * 2
    layout = StoreLayout(store.resolve())
    assert {Path(r["path"]).name for r in read_manifest(layout).to_pylist()} == {"win0.json"}
    assert verify(layout).ok
    monkeypatch.setattr(ChainWriter, "append", append)
    again = _run(paths, store, workers=1)
    assert [f.status for f in again.files] == ["already ingested", *["ingested"] * 3]
    win3 = again.files[3]  # its records are all win1's (and a cut last line, rejected)
    assert win3.records_stored == 0 and win3.records_duplicate > 0
    n = duckdb.sql(
        f"SELECT count(*) - count(DISTINCT record_key) FROM read_parquet('{layout.events_glob()}')"
    ).fetchall()
    assert n == [(0,)]
    assert verify(layout).ok


def test_without_syncfs_every_file_is_synced_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "can_sync_filesystem", lambda: False)
    monkeypatch.setattr(pipeline, "make_durable", lambda *_: pytest.fail("no group sync"))
    rep = _run(_inputs(tmp_path), tmp_path / "store", workers=2)
    assert all(f.status == "ingested" for f in rep.files)
    assert verify(StoreLayout((tmp_path / "store").resolve())).ok


def test_make_durable_falls_back_to_fsync_of_each_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    files = [tmp_path / "d" / "a", tmp_path / "b"]
    for f in files:
        f.write_bytes(b"x")
    synced: list[int] = []
    monkeypatch.setattr(atomic, "_syncfs", lambda: None)
    monkeypatch.setattr(atomic.os, "fsync", synced.append)
    atomic.make_durable(tmp_path, [*files, tmp_path / "gone"])
    assert len(synced) == 4  # two files, two directories; a vanished file is passed over


def test_pool_outcomes_wait_for_their_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With worker processes, outcomes arriving one by one still commit as one group, until
    only the inputs the workers are parsing are left: those commit as they come, so that no
    group waits to be committed after the last parse."""
    steps: list[str] = []
    groups: list[int] = []
    commit = pipeline._Committer.commit

    def counted(self: Any, group: list[Any]) -> Any:
        groups.append(len(group))
        return commit(self, group)

    monkeypatch.setattr(pipeline, "GROUP_SECONDS", 600.0)
    monkeypatch.setattr(pipeline._Committer, "commit", counted)
    monkeypatch.setattr(pipeline, "make_durable", lambda *_: steps.append("durable"))
    monkeypatch.setattr(pipeline, "can_sync_filesystem", lambda: True)
    rep = _run(_inputs(tmp_path, 10), tmp_path / "store", workers=2)
    assert all(f.status == "ingested" for f in rep.files)
    assert sum(groups) == 10 and groups[0] >= 8 and len(groups) <= 3
    # each commit makes its group's events and the previous rows durable; two more at the end
    assert steps == ["durable"] * (len(groups) + 2)
