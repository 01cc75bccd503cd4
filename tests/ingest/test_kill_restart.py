"""Crash safety: SIGKILL an ingest mid-run (twice), run it again: no duplicate, no lost record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

ASHIATO = str(Path(sys.executable).with_name("ashiato"))
FILES = 12
LINES = 15_000


def _start(src: Path, store: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [ASHIATO, "ingest", str(src), "--store", str(store), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the workers too
    )


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 120
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.wait()
    return False


def test_sigkill_and_restart(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(FILES):
        data = bulk_zeek(LINES, seed=i) if i % 2 else bulk_ecs(LINES, seed=i)
        (src / f"part-{i:02d}.log").write_bytes(data)
    store = tmp_path / "store"
    manifest = store / "manifest"

    def n_manifest() -> int:
        return len(list(manifest.glob("*.parquet"))) if manifest.is_dir() else 0

    def partial_written() -> bool:  # some event files on disk, not all inputs finished
        return any((store / "events").glob("day=*/*.parquet")) and n_manifest() < FILES

    killed_first = _kill_when(_start(src, store), partial_written)
    after_first = n_manifest()
    killed_second = _kill_when(_start(src, store), lambda: n_manifest() > after_first)
    final = subprocess.run(
        [ASHIATO, "ingest", str(src), "--store", str(store)], capture_output=True, check=False
    )
    assert final.returncode == 0, final.stderr
    assert killed_first, "the first run should have been killed mid-way"
    assert killed_second or n_manifest() == FILES

    con = duckdb.connect()
    glob = f"{store}/events/day=*/*.parquet"
    total, distinct = con.sql(
        f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{glob}')"
    ).fetchall()[0]
    assert total == distinct, "no event stored twice"
    # every record of every file, exactly once (the zeek samples have header lines, not records)
    assert total == FILES * LINES, "no event lost"
    assert n_manifest() == FILES
    assert not list((store / "tmp").iterdir())
