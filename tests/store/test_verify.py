"""Chain of custody: verify catches a changed original, a changed or missing store file, a stray."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

from ashiato.ingest import ingest
from ashiato.store.layout import StoreLayout
from ashiato.store.verify import CHANGED, MISSING, OK, verify


def _setup(tmp_path: Path) -> tuple[StoreLayout, Path, Path]:
    src = tmp_path / "in"
    src.mkdir()
    (src / "conn.log").write_bytes(bulk_zeek(50))
    with zipfile.ZipFile(src / "win.zip", "w") as zf:
        zf.writestr("security.json", bulk_ecs(40) + b"{broken\n")
    layout = StoreLayout(tmp_path / "store")
    ingest([src], layout.root, workers=1)
    return layout, src / "conn.log", src / "win.zip"


def test_intact_store_verifies(tmp_path: Path) -> None:
    layout, _, _ = _setup(tmp_path)
    rep = verify(layout)
    assert rep.ok and len(rep.checks) == 2
    assert all(c.original == OK and c.parquet_ok >= 1 for c in rep.checks)
    # the zip member's rejection file is covered too
    win = next(c for c in rep.checks if "!" in c.path)
    assert win.parquet_ok >= 2


def test_tampering_is_caught(tmp_path: Path) -> None:
    layout, conn, win = _setup(tmp_path)
    conn.write_bytes(conn.read_bytes() + b"# appended\n")
    part = next(layout.events_dir.glob("day=*/*.parquet"))
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    shutil.copy(part, part.with_name("stray-0.parquet"))
    win.unlink()
    rep = verify(layout)
    assert not rep.ok
    by = {Path(c.path.split("!")[0]).name: c for c in rep.checks}
    assert by["conn.log"].original == CHANGED
    assert by["win.zip"].original == MISSING  # gone is reported, not a failure by itself
    assert any("changed" in b for c in rep.checks for b in c.parquet_bad)
    assert any(u.endswith("stray-0.parquet") for u in rep.unaccounted)
