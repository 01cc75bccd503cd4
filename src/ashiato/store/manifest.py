"""The evidence manifest: one Parquet row per input file ingested, the chain of custody.

An input file counts as ingested only once ``manifest/<sha256>.parquet`` exists, and it is written
last, after the file's events and rejections. That one rule gives idempotence (a file whose manifest
row exists is skipped) and crash safety (files without a manifest row are orphans and get removed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.events import MANIFEST, REJECTION
from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest row (see ``events.MANIFEST`` for the meaning of each field)."""

    sha256: str
    path: str
    size: int
    parser: str
    records_read: int
    records_stored: int
    records_rejected: int
    records_duplicate: int
    first_ts: datetime | None
    last_ts: datetime | None
    ingested_at: datetime
    partitions: Sequence[str]
    parquet_sha256: Sequence[str]


def manifest_path(layout: StoreLayout, sha256: str) -> Path:
    return layout.manifest_dir / f"{sha256}.parquet"


def is_ingested(layout: StoreLayout, sha256: str) -> bool:
    """True once the input with this SHA-256 has its manifest row."""
    return manifest_path(layout, sha256).is_file()


def ingested_sha16(layout: StoreLayout) -> set[str]:
    """First 16 hex digits of every ingested input's SHA-256 (the prefix of its store files)."""
    if not layout.manifest_dir.is_dir():
        return set()
    return {p.name[:16] for p in layout.manifest_dir.glob("*.parquet")}


def write_manifest(layout: StoreLayout, entry: ManifestEntry, *, sync: bool = True) -> str:
    """Write the manifest row atomically (do it last); return the manifest file's SHA-256.

    ``sync=False`` leaves its durability to the caller (``atomic.make_durable``).
    """
    parts = entry.records_stored + entry.records_rejected + entry.records_duplicate
    if entry.records_read != parts:
        raise ValueError(f"manifest counts do not add up for {entry.path}")
    row = {name: [getattr(entry, name)] for name in MANIFEST.names}
    row["partitions"] = [list(entry.partitions)]
    row["parquet_sha256"] = [list(entry.parquet_sha256)]
    table = pa.Table.from_pydict(row, schema=MANIFEST)
    return atomic_write_parquet(
        manifest_path(layout, entry.sha256), table, layout.tmp_dir, sync=sync
    )


def read_entry(layout: StoreLayout, sha256: str) -> dict[str, object] | None:
    """The manifest row of one input as a dict, or None if it was never ingested."""
    p = manifest_path(layout, sha256)
    if not p.is_file():
        return None
    rows = pq.read_table(p, schema=MANIFEST).to_pylist()
    if not rows:
        return None
    row: dict[str, object] = rows[0]
    if row["records_duplicate"] is None:
        row["records_duplicate"] = 0
    return row


def _read_dir(files: list[Path], schema: pa.Schema) -> pa.Table:
    if not files:
        return schema.empty_table()
    return pa.concat_tables([pq.read_table(f, schema=schema) for f in sorted(files)])


def read_manifest(layout: StoreLayout) -> pa.Table:
    """Every manifest row (MANIFEST schema); an empty table if nothing was ingested.

    Rows written before duplicates were counted read ``records_duplicate`` as 0.
    """
    d = layout.manifest_dir
    table = _read_dir(list(d.glob("*.parquet")) if d.is_dir() else [], MANIFEST)
    i = table.schema.get_field_index("records_duplicate")
    dup = pc.fill_null(table.column(i), 0)
    return table.set_column(i, MANIFEST.field(i), dup)


def read_rejects(layout: StoreLayout) -> pa.Table:
    """Every rejected record of every ingested input (REJECTION schema); empty if none.

    Reject files of inputs without a manifest row (a run in progress or killed) are left out.
    """
    d = layout.rejects_dir
    keep = ingested_sha16(layout)
    files = [p for p in d.glob("*.parquet") if p.stem in keep] if d.is_dir() else []
    return _read_dir(files, REJECTION)
