"""Write one input file's events and rejections into the store, and clean up after killed runs.

Events are buffered per UTC day and written as ``events/day=YYYY-MM-DD/<sha16>-<n>.parquet``
files of about ``flush_rows`` rows each, sorted by (ts, event_id), so memory stays bounded
whatever the input size. Rejections stream to ``rejects/<sha16>.parquet``. Nothing here writes
the manifest: the caller does that last, and ``remove_orphans`` deletes every file whose input
has no manifest row, which is what makes an interrupted ingest safe to re-run.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.events import ACCESS_EVENT, REJECTION
from ashiato.store.atomic import atomic_write_parquet, sha256_file
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import ingested_sha16

STATISTICS = ["ts", "kind", "event_code", "source", "source_offset", "log_host", "record_key"]
"""Columns whose min/max let DuckDB skip files and row groups (time ranges, one log's kinds),
and let the de-duplication rule out files whose record keys cannot meet (``dedup``). The others
(ids, users, hosts, raw) are high-cardinality and unsorted: statistics on them cost about 15 % of
write time and never prune anything."""
UNIQUE = frozenset({"event_id", "record_key"})
DICTIONARY = [
    *(n for n in ACCESS_EVENT.names if n not in UNIQUE and n != "raw"),
    "raw.key_value.key",
    "raw.key_value.value",
]
"""Columns (leaf paths) written dictionary-encoded: all but the ids unique to each row, where
Parquet first builds a dictionary, finds it too large and falls back to plain (~20 % of the
write time of a Zeek file, for nothing)."""
FLUSH_ROWS = 200_000
MAX_BUFFERED_ROWS = 1_000_000
MAX_BUFFERED_BYTES = 192 << 20
"""Buffered Arrow bytes across day partitions before the largest day is written: the bound that
keeps peak memory flat, since Windows rows with their raw maps are ten times LANL's."""
_US_PER_DAY = 86_400_000_000
_EPOCH_DAY = date(1970, 1, 1)
_SORT = [("ts", "ascending"), ("source_offset", "ascending")]
"""Rows of one input sort by time, then by place in the file (event_id order within one input)."""


KEYS_IN_MEMORY = 1_000_000
"""Record keys an input may hold in memory for the check that it repeats none; past this, the
check reads them back from the files written, one day at a time."""
SPILL_MEMORY = "256MB"
"""DuckDB's memory limit for that read-back check (it spills to disk past it)."""


@dataclass(frozen=True)
class Span:
    """What one events file holds, in brief: enough to rule it out as holding a duplicate."""

    lo: int
    hi: int
    """Earliest and latest ``ts``, epoch µs."""
    kmin: str | None = None
    kmax: str | None = None
    """Range of its record keys; None when it holds no keyed row."""
    unkeyed: bool = True
    """It holds rows without a key (or it was written before keys existed)."""

    def may_share(self, other: Span) -> bool:
        """Whether the two files can hold a row of one record (their times overlapping)."""
        if self.unkeyed and other.unkeyed:
            return True
        if self.kmin is None or self.kmax is None or other.kmin is None or other.kmax is None:
            return False
        return self.kmin <= other.kmax and other.kmin <= self.kmax


def span_of(table: pa.Table) -> Span:
    """The span of an events table sorted by ``ts`` (as every events file is)."""
    ts = table.column("ts")
    keys = table.column("record_key")
    mm = pc.min_max(keys).as_py()
    return Span(ts[0].value, ts[-1].value, mm["min"], mm["max"], keys.null_count > 0)


@dataclass
class WrittenFile:
    """What the writer stored for one input file (the manifest row is built from it)."""

    records_stored: int = 0
    records_rejected: int = 0
    records_duplicate: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    partitions: list[str] = field(default_factory=list)
    parquet_sha256: list[str] = field(default_factory=list)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    spans: dict[str, Span] = field(default_factory=dict)
    """Each events file written, by its path in the store, with its span."""


class _RejectSink:
    """Streams REJECTION rows to a tmp file, renamed into rejects/ on ``close``."""

    BATCH = 10_000

    def __init__(
        self, layout: StoreLayout, sha256: str, parser: str, path: str, *, sync: bool = True
    ) -> None:
        self._layout = layout
        self._sync = sync
        self._const = (sha256, path, parser)
        self._rows: list[tuple[int, str, str]] = []
        self._tmp: Path | None = None
        self._writer: Any = None
        self.dest = layout.rejects_dir / f"{sha256[:16]}.parquet"

    def add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.BATCH:
            self._write()

    def _write(self) -> None:
        if not self._rows:
            return
        if self._writer is None:
            self._layout.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = self._layout.tmp_dir / f"{uuid.uuid4().hex}.parquet.tmp"
            self._writer = pq.ParquetWriter(self._tmp, REJECTION, compression="zstd")
        n = len(self._rows)
        offsets, reasons, excerpts = zip(*self._rows, strict=True)
        sha, path, parser = self._const
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([sha] * n, pa.string()),
                pa.array([path] * n, pa.string()),
                pa.array(offsets, pa.int64()),
                pa.array([parser] * n, pa.string()),
                pa.array(reasons, pa.string()),
                pa.array(excerpts, pa.string()),
            ],
            schema=REJECTION,
        )
        self._writer.write_batch(batch)
        self._rows = []

    def close(self) -> str | None:
        """Finish the file and move it into place; its SHA-256, or None if nothing was rejected."""
        self._write()
        if self._writer is None or self._tmp is None:
            return None
        self._writer.close()
        self._writer = None
        digest = sha256_file(self._tmp)
        if self._sync:
            with self._tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.replace(self.dest)
        return digest

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def _sorted(table: pa.Table) -> pa.Table:
    """Sort by (ts, source_offset), skipping the sort when rows already arrive in that order.

    Most logs are written in time order and parsers emit rows in file order, so a cheap check
    saves a full sort (a gather of every column) on the common path.
    """
    if table.num_rows > 1:
        ts = table.column("ts").combine_chunks().cast(pa.int64())
        off = table.column("source_offset").combine_chunks()
        later = pc.greater(ts[1:], ts[:-1])
        same = pc.equal(ts[1:], ts[:-1])
        ordered = pc.or_(later, pc.and_(same, pc.greater(off[1:], off[:-1])))
        if not pc.all(ordered).as_py():
            return table.sort_by(_SORT)
    return table


class FileWriter:
    """Stores the events and rejections of one input file; call ``finish`` or ``abort`` once.

    ``sync=False``: files are renamed into place without an fsync each; the caller makes them
    durable (``atomic.make_durable``) before any manifest row names them.
    """

    def __init__(
        self,
        layout: StoreLayout,
        sha256: str,
        parser: str,
        path: str,
        *,
        flush_rows: int = FLUSH_ROWS,
        max_buffered_rows: int = MAX_BUFFERED_ROWS,
        max_buffered_bytes: int = MAX_BUFFERED_BYTES,
        sync: bool = True,
    ) -> None:
        self._layout = layout
        self._sync = sync
        self._sha16 = sha256[:16]
        self._flush_rows = flush_rows
        self._max_buffered = max_buffered_rows
        self._max_bytes = max_buffered_bytes
        self._days: dict[int, list[pa.RecordBatch]] = {}
        self._day_rows: Counter[int] = Counter()
        self._day_bytes: Counter[int] = Counter()
        self._buffered = 0
        self._buffered_bytes = 0
        self._n = 0
        self._written: list[Path] = []
        self._rejects = _RejectSink(layout, sha256, parser, path, sync=sync)
        self._reasons: Counter[str] = Counter()
        self._min_us: int | None = None
        self._max_us: int | None = None
        self._keys: list[pa.Array] = []
        self._n_keys = 0
        self._keys_spilled = False
        self.result = WrittenFile()

    def add(self, batch: pa.RecordBatch, rejections: Iterable[tuple[int, str, str]] = ()) -> None:
        """Buffer a batch of ACCESS_EVENT rows and record its rejections."""
        rej = list(rejections)
        if rej:
            self._rejects.add(rej)
            self._reasons.update(r[1] for r in rej)
            self.result.records_rejected += len(rej)
        if batch.num_rows == 0:
            return
        self.result.records_stored += batch.num_rows
        keys = batch.column("record_key")
        if keys.null_count < batch.num_rows:
            self._track(keys)
        ts = batch.column("ts").cast(pa.int64())
        mm = pc.min_max(ts).as_py()
        lo, hi = mm["min"], mm["max"]
        self._min_us = lo if self._min_us is None else min(self._min_us, lo)
        self._max_us = hi if self._max_us is None else max(self._max_us, hi)
        if lo // _US_PER_DAY == hi // _US_PER_DAY:
            self._buffer(lo // _US_PER_DAY, batch)
        else:
            days = pc.divide(ts, _US_PER_DAY)
            for day in pc.unique(days).to_pylist():
                self._buffer(day, batch.filter(pc.equal(days, day)))
        while self._buffered > self._max_buffered or self._buffered_bytes > self._max_bytes:
            self._flush(max(self._day_bytes, key=self._day_bytes.__getitem__))

    def _track(self, keys: pa.Array) -> None:
        self._n_keys += len(keys) - keys.null_count
        if self._keys_spilled:
            return
        if self._n_keys > KEYS_IN_MEMORY:
            self._keys_spilled = True
            self._keys.clear()
        else:
            self._keys.append(keys.drop_null() if keys.null_count else keys)

    def repeated_keys(self) -> pa.Array:
        """The record keys that occur more than once in this input (call after ``finish``).

        A key names one record, so a repeat is a copy (or, rarely, a source reusing a key for
        another record: ``dedup.within_input`` compares their content too).
        """
        if not self._n_keys:
            return pa.array([], pa.string())
        if not self._keys_spilled:
            return _repeated(pa.chunked_array(self._keys, pa.string()))
        # Past KEYS_IN_MEMORY, DuckDB groups the keys read back from the files under a memory
        # limit and spills, so a day of tens of millions of flows cannot exhaust memory.
        import duckdb

        from ashiato.store.tables import spill_dir

        by_day: dict[str, list[str]] = {}
        for rel in self.result.spans:
            by_day.setdefault(rel.split("/")[1], []).append(str(self._layout.root / rel))
        found: list[pa.Array] = []
        con = duckdb.connect()
        try:
            con.execute("SET threads = 1")
            con.execute(f"SET memory_limit = '{SPILL_MEMORY}'")
            con.execute(f"SET temp_directory = '{spill_dir().as_posix()}'")
            con.execute("SET enable_progress_bar = false")
            for files in by_day.values():  # a key holds its record's time: repeats share a day
                rows = con.execute(
                    "SELECT record_key FROM read_parquet(?) WHERE record_key IS NOT NULL"
                    " GROUP BY record_key HAVING count(*) > 1",
                    [files],
                ).fetchall()
                found.append(pa.array([r[0] for r in rows], pa.string()))
        finally:
            con.close()
        return pa.concat_arrays(found) if found else pa.array([], pa.string())

    def _buffer(self, day: int, batch: pa.RecordBatch) -> None:
        size = batch.get_total_buffer_size()
        self._days.setdefault(day, []).append(batch)
        self._day_rows[day] += batch.num_rows
        self._day_bytes[day] += size
        self._buffered += batch.num_rows
        self._buffered_bytes += size
        if self._day_rows[day] >= self._flush_rows:
            self._flush(day)

    def _flush(self, day: int) -> None:
        batches = self._days.pop(day, [])
        self._buffered -= self._day_rows.pop(day, 0)
        self._buffered_bytes -= self._day_bytes.pop(day, 0)
        if not batches:
            return
        table = _sorted(pa.Table.from_batches(batches, schema=ACCESS_EVENT))
        day_text = (_EPOCH_DAY + timedelta(days=day)).isoformat()
        dest = self._layout.day_dir(day_text) / f"{self._sha16}-{self._n}.parquet"
        self._n += 1
        self._written.append(dest)
        digest = atomic_write_parquet(
            dest, table, self._layout.tmp_dir, STATISTICS, DICTIONARY, sync=self._sync
        )
        rel = dest.relative_to(self._layout.root).as_posix()
        self.result.partitions.append(rel)
        self.result.parquet_sha256.append(digest)
        self.result.spans[rel] = span_of(table)

    def finish(self) -> WrittenFile:
        """Write what is buffered and the rejections; return the summary for the manifest."""
        for day in sorted(self._days):
            self._flush(day)
        self._written.append(self._rejects.dest)
        digest = self._rejects.close()
        if digest is not None:
            rel = self._rejects.dest.relative_to(self._layout.root).as_posix()
            self.result.partitions.append(rel)
            self.result.parquet_sha256.append(digest)
        self.result.reasons = dict(self._reasons)
        if self._min_us is not None and self._max_us is not None:
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            self.result.first_ts = epoch + timedelta(microseconds=self._min_us)
            self.result.last_ts = epoch + timedelta(microseconds=self._max_us)
        return self.result

    def abort(self) -> None:
        """Remove everything written so far (the input will count as not ingested)."""
        self._rejects.abort()
        for p in self._written:
            p.unlink(missing_ok=True)
        self._days.clear()


def _repeated(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values that occur more than once in ``keys``."""
    if pc.count_distinct(keys).as_py() == len(keys):
        return pa.array([], pa.string())
    counts = pc.value_counts(keys)
    return counts.field("values").filter(pc.greater(counts.field("counts"), 1))


def remove_input(layout: StoreLayout, sha256: str) -> None:
    """Delete every event and reject file of one input (one that failed to commit)."""
    prefix = sha256[:16]
    for p in [
        *layout.events_dir.glob(f"day=*/{prefix}-*.parquet"),
        layout.rejects_dir / f"{prefix}.parquet",
    ]:
        p.unlink(missing_ok=True)


def remove_orphans(layout: StoreLayout) -> list[Path]:
    """Delete event and reject files of inputs without a manifest row, and all of tmp/.

    Run at the start of every ingest: whatever a killed run left behind goes, so re-running it
    neither duplicates events nor leaves half an input in the store. Not safe while another
    ingest writes to the same store.
    """
    keep = ingested_sha16(layout)
    removed: list[Path] = []
    candidates: list[Path] = []
    if layout.events_dir.is_dir():
        candidates.extend(layout.events_dir.glob("day=*/*.parquet"))
    if layout.rejects_dir.is_dir():
        candidates.extend(layout.rejects_dir.glob("*.parquet"))
    for p in candidates:
        if p.name.split("-", 1)[0].removesuffix(".parquet") not in keep:
            p.unlink(missing_ok=True)
            removed.append(p)
    if layout.events_dir.is_dir():
        for d in layout.events_dir.glob("day=*"):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    if layout.tmp_dir.is_dir():
        for p in layout.tmp_dir.iterdir():
            if p.is_dir():
                import shutil

                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed
