"""Store each record once, however often it arrives: drop new rows the store already holds.

Overlapping exports are the normal case (daily exports that overlap, a re-export after a collector
restart, the same EVTX copied by two responders, one event as EVTX and as Winlogbeat JSON), and a
record stored twice is counted twice by every detector and report. Two rules, by whether the row
has a natural identity (``record_key``, see ``events.ACCESS_EVENT``):

* **keyed rows** — a new row whose key a committed input already stored is a duplicate, and so is
  a row whose key came earlier in the same input (a file concatenated with itself). Zeek keys
  are the exception within one input: one uid spans several lines of some logs (dce_rpc, smb)
  that can share a timestamp, so there a row is a copy only if its content is the same too.
* **rows without a key** (LANL, syslog, mapped CSV) are identified by their content: every column
  except where they came from (``event_id``, ``source_file``, ``source_offset``). Identical lines
  are legitimately repeated in such logs (LANL logs the same logon many times a second), so a
  new input's *n*-th copy of a row is a duplicate only if the store already holds *n* copies:
  re-ingesting an overlapping file adds nothing, and a row repeated k times is stored k times.

The check runs in two places. ``within_input`` (in the worker, rare: only when one input repeats a
key) and ``Deduplicator`` (in the parent, serially at commit time, so parallel workers cannot race):
for each day the new input wrote, its rows are compared with the committed files of that day whose
time range and record-key range overlap its own (read from Parquet footers, once per run, so that
inputs from other hosts or other times cost nothing), and the new input's files are rewritten
without the duplicates before its manifest row is written. ``event_id`` of the rows kept does not
change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.events import ACCESS_EVENT
from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import ingested_sha16
from ashiato.store.writer import DICTIONARY, STATISTICS, Span, WrittenFile, span_of

WHERE_FROM = frozenset({"event_id", "source_file", "source_offset", "record_key"})
DERIVED = frozenset({"subject_user"})
"""Columns taken from ``raw`` at ingest: already in the content, and absent from older stores."""
CONTENT = tuple(n for n in ACCESS_EVENT.names if n not in WHERE_FROM | DERIVED)
"""The columns that make a row without a key what it is."""
_CONTENT_SQL = "struct_pack(" + ", ".join(f'"{c}"' for c in CONTENT) + ")"
_SECOND = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def day_of(rel: str) -> str | None:
    """The day partition of a store file (``events/day=YYYY-MM-DD/...``), None for others."""
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "events" and parts[1].startswith("day="):
        return parts[1][4:]
    return None


_ANY = Span(-(2**62), 2**62, "", "\U0010ffff", True)
"""The span of a file whose footer lacks the statistics: it may overlap anything."""


def footer_span(path: Path) -> Span:
    """The span of a stored events file, from its Parquet footer's statistics."""
    md = pq.ParquetFile(path).metadata
    ts: list[int] = []
    keys: list[str] = []
    has_key_column = unkeyed = False
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        for j in range(rg.num_columns):
            col = rg.column(j)
            name = col.path_in_schema
            if name not in ("ts", "record_key"):
                continue
            st = col.statistics
            if name == "ts":
                if st is None or not st.has_min_max:
                    return _ANY
                ts += [_us(st.min), _us(st.max)]
                continue
            has_key_column = True
            if st is None or not st.has_null_count:
                return _ANY
            if st.null_count:
                unkeyed = True
            if st.has_min_max:
                keys += [str(st.min), str(st.max)]
            elif st.null_count != col.num_values:
                return _ANY
    if not ts:
        return Span(0, -1, None, None, False)
    return Span(
        min(ts),
        max(ts),
        min(keys) if keys else None,
        max(keys) if keys else None,
        unkeyed or not has_key_column,
    )


def _us(v: Any) -> int:
    if isinstance(v, datetime):
        return (v - _EPOCH) // timedelta(microseconds=1)
    return int(v)


def _connect() -> Any:
    import duckdb

    from ashiato.store.tables import spill_dir

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '1GB'")
    con.execute(f"SET temp_directory = '{spill_dir().as_posix()}'")
    con.execute("SET enable_progress_bar = false")
    return con


def _rewrite(layout: StoreLayout, written: WrittenFile, drop: dict[str, set[int]]) -> WrittenFile:
    """``written`` with the rows at the ``drop`` offsets removed from its files, counted."""
    parts: list[str] = []
    hashes: list[str] = []
    spans = dict(written.spans)
    removed = 0
    for rel, digest in zip(written.partitions, written.parquet_sha256, strict=True):
        offsets = drop.get(rel)
        if not offsets:
            parts.append(rel)
            hashes.append(digest)
            continue
        path = layout.root / rel
        table = pq.read_table(path, schema=ACCESS_EVENT)
        gone = pc.is_in(table.column("source_offset"), pa.array(sorted(offsets), pa.int64()))
        kept = table.filter(pc.invert(gone))
        removed += table.num_rows - kept.num_rows
        if kept.num_rows == 0:
            path.unlink()
            spans.pop(rel, None)
            continue
        spans[rel] = span_of(kept)
        parts.append(rel)
        hashes.append(atomic_write_parquet(path, kept, layout.tmp_dir, STATISTICS, DICTIONARY))
    lo = [sp.lo for sp in spans.values()]
    hi = [sp.hi for sp in spans.values()]
    return replace(
        written,
        records_stored=written.records_stored - removed,
        records_duplicate=written.records_duplicate + removed,
        partitions=parts,
        parquet_sha256=hashes,
        spans=spans,
        first_ts=_at(min(lo)) if lo else None,
        last_ts=_at(max(hi)) if hi else None,
    )


def _by_file(rows: list[tuple[str, int]], root: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for filename, offset in rows:
        out[filename].add(offset)
    return {Path(f).relative_to(root).as_posix(): offsets for f, offsets in out.items()}


def _sha16(rel: str) -> str:
    """The input prefix of an events file's name (``events/day=D/<sha16>-<n>.parquet``)."""
    return rel.rsplit("/", 1)[-1].split("-", 1)[0]


def within_input(layout: StoreLayout, written: WrittenFile, repeated: pa.Array) -> WrittenFile:
    """Drop rows of one input that repeat an earlier row of it (see the module docstring).

    ``repeated`` holds the keys that occur more than once in the input (the writer counts them).
    Reading the content costs most (the raw maps), so only Zeek keys pay for it.
    """
    files = [str(layout.root / rel) for rel in written.spans]
    if not files or len(repeated) == 0:
        return written
    zeek = pc.any(pc.starts_with(repeated, "zeek|")).as_py()
    same = f"record_key, {_CONTENT_SQL}" if zeek else "record_key"
    con = _connect()
    try:
        con.register("repeated", pa.table({"k": repeated}))
        rows = con.execute(
            f"""
            SELECT filename, source_offset FROM (
              SELECT filename, source_offset, row_number() OVER (
                PARTITION BY {same} ORDER BY source_offset) AS rn
              FROM read_parquet(?, filename = true)
              WHERE record_key IN (SELECT k FROM repeated))
            WHERE rn > 1
            """,
            [files],
        ).fetchall()
    finally:
        con.close()
    return _rewrite(layout, written, _by_file(rows, layout.root))


class Deduplicator:
    """Compares each new input with what the store already holds, one input at a time.

    Holds the run's DuckDB connection and an index of committed events files per day with their
    spans (time and record-key ranges), read from Parquet footers the first time a day is
    touched and kept current as inputs are committed (``committed``). Files of inputs not yet
    committed (a worker still writing, a killed run's orphans) are never compared with.
    """

    def __init__(self, layout: StoreLayout) -> None:
        self._layout = layout
        self._days: dict[str, dict[str, Span]] = {}
        self._keep: set[str] | None = None
        """sha16 prefixes of committed inputs: read once from the manifest, then kept current."""
        self._con: Any = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _day(self, day: str) -> dict[str, Span]:
        files = self._days.get(day)
        if files is None:
            if self._keep is None:
                self._keep = ingested_sha16(self._layout)
            keep = self._keep
            files = {
                p.relative_to(self._layout.root).as_posix(): footer_span(p)
                for p in sorted(self._layout.day_dir(day).glob("*.parquet"))
                if p.name.split("-", 1)[0] in keep
            }
            self._days[day] = files
        return files

    def committed(self, written: WrittenFile) -> None:
        """Count ``written``'s files as stored (call once its manifest row exists)."""
        if self._keep is not None:
            self._keep.update(_sha16(rel) for rel in written.spans)
        for rel, span in written.spans.items():
            day = day_of(rel)
            if day is not None and day in self._days:
                self._days[day][rel] = span

    def forget(self, written: WrittenFile) -> None:
        """Undo ``committed``: ``written``'s input was removed after all (its commit failed)."""
        if self._keep is not None:
            self._keep.difference_update(_sha16(rel) for rel in written.spans)
        for rel in written.spans:
            day = day_of(rel)
            if day is not None and day in self._days:
                self._days[day].pop(rel, None)

    def against_store(self, written: WrittenFile) -> WrittenFile:
        """``written`` without the rows that committed inputs already stored (files rewritten)."""
        new_by_day: dict[str, dict[str, Span]] = defaultdict(dict)
        for rel, span in written.spans.items():
            day = day_of(rel)
            if day is not None:
                new_by_day[day][rel] = span
        drop: dict[str, set[int]] = {}
        for day, new in sorted(new_by_day.items()):
            lo = min(sp.lo for sp in new.values())
            lo -= lo % _SECOND  # Windows keys hold the second: EVTX and JSON differ below it
            hi = max(sp.hi for sp in new.values())
            hi += _SECOND - hi % _SECOND
            old = [
                rel
                for rel, sp in self._day(day).items()
                if sp.hi >= lo and sp.lo < hi and any(n.may_share(sp) for n in new.values())
            ]
            if old:
                drop.update(self._duplicates(list(new), old, lo, hi))
        return _rewrite(self._layout, written, drop) if drop else written

    def _duplicates(self, new: list[str], old: list[str], lo: int, hi: int) -> dict[str, set[int]]:
        if self._con is None:
            self._con = _connect()
        root = self._layout.root
        rows = self._con.execute(
            f"""
            WITH n AS (
              SELECT filename, source_offset, record_key, {_CONTENT_SQL} AS c
              FROM read_parquet(?, filename = true)),
            o AS (
              SELECT record_key, {_CONTENT_SQL} AS c
              FROM read_parquet(?, union_by_name = true)
              WHERE ts >= ? AND ts < ?),
            stored AS (SELECT c, count(*) AS m FROM o WHERE record_key IS NULL GROUP BY c),
            numbered AS (
              SELECT filename, source_offset, c,
                row_number() OVER (PARTITION BY c ORDER BY source_offset) AS rn
              FROM n WHERE record_key IS NULL)
            SELECT filename, source_offset FROM n
            WHERE record_key IN (SELECT record_key FROM o WHERE record_key IS NOT NULL)
            UNION ALL
            SELECT filename, source_offset FROM numbered JOIN stored USING (c) WHERE rn <= m
            """,
            [[str(root / rel) for rel in new], [str(root / rel) for rel in old], _at(lo), _at(hi)],
        ).fetchall()
        return _by_file(rows, root)
