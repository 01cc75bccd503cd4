"""A store that cannot be written (a full disk, reproduced with a file-size limit): `ashiato ingest`
exits non-zero and names the inputs not stored; a rerun stores everything exactly once."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import duckdb
from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest
from ashiato.store.verify import verify

ASHIATO = str(Path(sys.executable).with_name("ashiato"))
LIMIT = 200 * 1024  # `ulimit -f 200`: Python ignores SIGXFSZ, so a write past it is OSError EFBIG


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _ingest(src: Path, store: Path, *extra: str, limited: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ASHIATO, "ingest", str(src), "--store", str(store), "--workers", "2", *extra],
        capture_output=True,
        text=True,
        preexec_fn=_limit if limited else None,  # the test's own child: no threads to upset
        timeout=300,
        check=False,
    )


def test_write_failure_exits_non_zero_and_a_rerun_stores_everything_once(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "small.json").write_bytes(bulk_ecs(50, seed=1))
    (src / "conn.log").write_bytes(bulk_zeek(80, seed=2))
    (src / "big-1.json").write_bytes(bulk_ecs(8000, seed=3))  # its Parquet file passes 200 KiB
    (src / "big-2.json").write_bytes(bulk_ecs(9000, seed=4))
    store = tmp_path / "store"
    for extra in ((), ("--strict",)):
        run = _ingest(src, store, *extra, limited=True)
        assert run.returncode == 1, run.stderr
        assert "not stored:" in run.stderr and "File too large" in run.stderr
        for name in ("big-1.json", "big-2.json"):
            assert f"not stored: {src / name}: failed: OSError" in run.stderr
        assert "small.json: failed" not in run.stderr
        assert "2 input(s) could not be stored" in run.stderr
        layout = StoreLayout(store.resolve())
        stored = {Path(r["path"]).name for r in read_manifest(layout).to_pylist()}
        assert stored == {"small.json", "conn.log"}  # the failed inputs left nothing behind
        assert verify(layout).ok
    final = _ingest(src, store, limited=False)
    assert final.returncode == 0, final.stderr
    rows = duckdb.sql(
        f"SELECT count(*), count(DISTINCT event_id), count(DISTINCT record_key) "
        f"FROM read_parquet('{store}/events/*/*.parquet')"
    ).fetchall()
    assert rows == [(50 + 80 + 8000 + 9000,) * 3]  # every record once
    manifest = read_manifest(StoreLayout(store.resolve())).to_pylist()
    assert len(manifest) == 4 and sum(r["records_duplicate"] for r in manifest) == 0
    assert verify(StoreLayout(store.resolve())).ok
