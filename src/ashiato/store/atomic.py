"""Atomic file writes: write under the store's tmp/, fsync, then rename into place.

A reader (or a run restarted after a crash) never sees half a file: either the old file, the new
file, or nothing.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(dest: Path, data: bytes, tmp_dir: Path) -> None:
    """Write ``data`` to ``dest`` atomically (through ``tmp_dir`` on the same filesystem)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.tmp"
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(dest)
    _fsync_dir(dest.parent)


def atomic_write_parquet(
    dest: Path,
    table: pa.Table,
    tmp_dir: Path,
    statistics: bool | list[str] = True,
    dictionary: bool | list[str] = True,
) -> str:
    """Write ``table`` as Parquet (zstd) to ``dest`` atomically; return the file's SHA-256.

    ``statistics`` names the columns that get min/max statistics, ``dictionary`` those that are
    dictionary-encoded (leaf paths, e.g. ``raw.key_value.key``); all by default.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.parquet.tmp"
    pq.write_table(
        table, tmp, compression="zstd", write_statistics=statistics, use_dictionary=dictionary
    )
    digest = sha256_file(tmp)
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.replace(dest)
    _fsync_dir(dest.parent)
    return digest


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
