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


def test_workers_end_with_a_killed_parent(tmp_path: Path) -> None:
    """Workers forked from the CLI hold its files open, the store's lock among them: when the
    parent alone is killed they must end too, or the next ingest finds the store locked."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        (src / f"part-{i:02d}.log").write_bytes(bulk_ecs(LINES, seed=i))
    store = tmp_path / "store"
    proc = _start(src, store)

    def kill_parent_only() -> bool:
        if not any((store / "events").glob("day=*/*.parquet")):
            return False
        os.kill(proc.pid, signal.SIGKILL)
        return True

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not kill_parent_only():
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run should have been killed mid-way"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)  # anyone left in the run's process group?
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("workers outlived their parent")
    again = subprocess.run(
        [ASHIATO, "ingest", str(src), "--store", str(store)], capture_output=True, check=False
    )
    assert again.returncode == 0, again.stderr
    con = duckdb.connect()
    glob = f"{store}/events/day=*/*.parquet"
    assert con.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0] == 6 * LINES
