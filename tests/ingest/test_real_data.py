"""Every file under shared/data/real ingests with zero crashes and full accounting.

The folder's own ``_inventory.csv`` files (written when the data was collected, by other tools)
give each file's record count and ``_files.tsv`` its SHA-256: the store must agree with both.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pytest

from ashiato.ingest import IngestReport, ingest
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest, read_rejects

REAL = Path(os.environ.get("ASHIATO_REAL_DATA", Path(__file__).parents[3] / "shared/data/real"))
COUNTED = {"evtx", "zip:json-lines", "zeek-tsv"}

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real data at {REAL}")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[IngestReport, StoreLayout]:
    layout = StoreLayout(tmp_path_factory.mktemp("real") / "store")
    return ingest([REAL], layout.root, workers=2), layout


def _inventory() -> list[dict[str, str]]:
    rows = []
    for inv in sorted(REAL.glob("*/_inventory.csv")):
        with inv.open(newline="") as fh:
            for r in csv.DictReader(fh):
                r["folder"] = inv.parent.name
                rows.append(r)
    return rows


def test_no_crash_and_full_accounting(ingested: tuple[IngestReport, StoreLayout]) -> None:
    report, layout = ingested
    failed = [(f.path, f.status) for f in report.files if f.status.startswith("failed")]
    assert not failed
    for row in read_manifest(layout).to_pylist():
        parts = row["records_stored"] + row["records_rejected"] + row["records_duplicate"]
        assert row["records_read"] == parts, row["path"]
    rejects = read_rejects(layout).to_pylist()
    assert all(r["reason"] and r["source_offset"] is not None for r in rejects)


def test_record_counts_match_the_data_inventory(ingested: tuple[IngestReport, StoreLayout]) -> None:
    _, layout = ingested
    manifest = read_manifest(layout).to_pylist()
    read = {r["path"]: r["records_read"] for r in manifest}
    # a file stored twice in the data set (same bytes) is ingested once, under its first path
    by_sha = {r["sha256"]: r["records_read"] for r in manifest}
    for tsv in REAL.glob("*/_files.tsv"):
        for line in tsv.read_text().splitlines():
            digest, _size, _upstream, local = line.split("\t")[:4]
            read.setdefault(str((tsv.parent / local).resolve()), by_sha.get(digest))
    checked = 0
    wrong = []
    for r in _inventory():
        if r["format"] not in COUNTED or not r["records"]:
            continue
        path = str((REAL / r["folder"] / r["path"]).resolve())
        if r["format"].startswith("zip:"):
            path = f"{path}!{r['member']}"
        got = read.get(path)
        if got != int(r["records"]):
            wrong.append((path, int(r["records"]), got))
        checked += 1
    assert checked > 350
    assert not wrong, wrong[:10]


def test_hashes_match_the_collectors(ingested: tuple[IngestReport, StoreLayout]) -> None:
    _, layout = ingested
    sha = {r["path"]: r["sha256"] for r in read_manifest(layout).to_pylist()}
    n = 0
    for tsv in sorted(REAL.glob("*/_files.tsv")):
        for line in tsv.read_text().splitlines():
            digest, _size, _upstream, local = line.split("\t")[:4]
            p = str((tsv.parent / local).resolve())
            if p in sha:
                assert sha[p] == digest, p
                n += 1
    assert n > 300


def test_access_events_are_found(ingested: tuple[IngestReport, StoreLayout]) -> None:
    import duckdb

    _, layout = ingested
    kinds = Counter(
        dict(
            duckdb.sql(
                f"SELECT kind, count(*) FROM read_parquet('{layout.events_glob()}') GROUP BY 1"
            ).fetchall()
        )
    )
    for k in (
        "logon",
        "logon_failure",
        "explicit_credentials",
        "kerberos_tgt",
        "kerberos_service",
        "share_access",
        "share_object",
        "process_start",
        "network_flow",
    ):
        assert kinds[k] > 0, f"no {k} events in the real data"
