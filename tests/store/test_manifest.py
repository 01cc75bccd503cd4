"""Manifest: one row per input, written atomically; readers return typed empty tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ashiato.events import MANIFEST, REJECTION
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import (
    ManifestEntry,
    ingested_sha16,
    is_ingested,
    read_entry,
    read_manifest,
    read_rejects,
    write_manifest,
)

NOW = datetime(2026, 9, 10, tzinfo=UTC)


def entry(sha: str, read: int = 3) -> ManifestEntry:
    return ManifestEntry(
        sha,
        "/in/a.json",
        10,
        "ecs_json",
        read,
        2,
        1,
        0,
        NOW,
        NOW,
        NOW,
        ["events/day=2026-09-10/x-0.parquet"],
        ["f" * 64],
    )


def test_empty_store(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path / "nothing")
    assert read_manifest(layout).schema.equals(MANIFEST)
    assert read_manifest(layout).num_rows == 0
    assert read_rejects(layout).schema.equals(REJECTION)
    assert ingested_sha16(layout) == set()
    assert read_entry(layout, "0" * 64) is None


def test_write_and_read(tmp_path: Path) -> None:
    layout = StoreLayout(tmp_path)
    layout.ensure()
    write_manifest(layout, entry("a" * 64))
    write_manifest(layout, entry("b" * 64))
    assert is_ingested(layout, "a" * 64) and not is_ingested(layout, "c" * 64)
    t = read_manifest(layout)
    assert t.num_rows == 2
    assert t.column("partitions").to_pylist()[0] == ["events/day=2026-09-10/x-0.parquet"]
    row = read_entry(layout, "b" * 64)
    assert row is not None and row["parser"] == "ecs_json" and row["ingested_at"] == NOW
    assert ingested_sha16(layout) == {"a" * 16, "b" * 16}
    assert list(layout.tmp_dir.iterdir()) == []


def test_counts_must_add_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="do not add up"):
        write_manifest(StoreLayout(tmp_path), entry("a" * 64, read=4))
