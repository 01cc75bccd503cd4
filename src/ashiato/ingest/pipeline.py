"""Run an ingest: find input files, hash them, parse the new ones in worker processes, record them.

The parent hashes each file (so the same bytes are never ingested twice, even under two names in one
run), hands new files to a process pool, and writes each manifest row itself once a worker has
stored that file's events and rejections. Orphans of a killed run are removed first.
"""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ashiato.errors import IngestError
from ashiato.ingest.base import ParseContext
from ashiato.ingest.registry import SNIFF_BYTES, detect, get_parser
from ashiato.ingest.report import (
    ALREADY_INGESTED,
    INGESTED,
    NO_PARSER,
    UNRECOGNISED,
    FileResult,
    IngestReport,
    ProgressUpdate,
)
from ashiato.store.layout import StoreLayout, writer_lock
from ashiato.store.manifest import ManifestEntry, is_ingested, read_entry, write_manifest
from ashiato.store.writer import FileWriter, WrittenFile, remove_orphans

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def discover(paths: Sequence[str | Path], exclude: Path | None = None) -> list[Path]:
    """Input files in order: files as given, directories walked (sorted, hidden entries skipped).

    Nothing under ``exclude`` (the store itself) is taken, even when the store is inside an input
    directory.
    """
    out: list[Path] = []
    for given in paths:
        p = Path(given)
        if p.is_file():
            out.append(p.resolve())
        elif p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not d.startswith(".") and (Path(root) / d).resolve() != exclude
                )
                for name in sorted(files):
                    f = Path(root) / name
                    if not name.startswith(".") and f.is_file():
                        out.append(f.resolve())
        else:
            raise IngestError(f"input not found: {given}")
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def hash_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """Streamed SHA-256 and size of a file's bytes."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def open_input(path: Path) -> BinaryIO:
    """Open a file for reading, decompressing gzip (recognised by its magic bytes, not its name)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first ``size`` bytes of a file, decompressed; as much as there is if it is damaged."""
    parts: list[bytes] = []
    got = 0
    with open_input(path) as fh:
        read = getattr(fh, "read1", fh.read)
        try:
            while got < size and (block := read(size - got)):
                parts.append(block)
                got += len(block)
        except (EOFError, OSError):
            pass
    return b"".join(parts)


@dataclass(frozen=True)
class _Task:
    path: str
    sha256: str
    size: int
    store: str
    fmt: str | None
    now: datetime


@dataclass(frozen=True)
class _Outcome:
    parser: str | None
    written: WrittenFile | None
    error: str | None = None


def process_file(task: _Task) -> _Outcome:
    """Sniff, parse and store one file (runs in a worker process); never writes the manifest."""
    path = Path(task.path)
    try:
        parser = get_parser(task.fmt) if task.fmt else detect(read_head(path), path.name)
    except Exception as exc:  # unreadable file
        return _Outcome(None, None, f"{type(exc).__name__}: {exc}")
    if parser is None:
        return _Outcome(None, None)
    layout = StoreLayout(Path(task.store))
    ctx = ParseContext(sha256=task.sha256, path=task.path, now=task.now)
    writer = FileWriter(layout, task.sha256, parser.name, task.path)
    try:
        with open_input(path) as stream:
            for pb in parser.parse(stream, ctx):
                writer.add(pb.batch, pb.rejections)
        return _Outcome(parser.name, writer.finish())
    except Exception as exc:  # a bug or an I/O error: this file fails, the run goes on
        writer.abort()
        return _Outcome(parser.name, None, f"{type(exc).__name__}: {exc}")


def _run(tasks: list[_Task], workers: int) -> Iterator[tuple[int, Future[_Outcome] | _Outcome]]:
    """Yield (task index, outcome or future) as each finishes."""
    if workers <= 1 or len(tasks) <= 1:
        for i, t in enumerate(tasks):
            yield i, process_file(t)
        return
    from concurrent.futures import as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        futures = {pool.submit(process_file, t): i for i, t in enumerate(tasks)}
        for fut in as_completed(futures):
            yield futures[fut], fut


def ingest(
    paths: Sequence[str | Path],
    store: str | Path,
    *,
    fmt: str | None = None,
    workers: int = 2,
    progress: Callable[[ProgressUpdate], None] | None = None,
    clock: Clock = _utc_now,
) -> IngestReport:
    """Ingest files and directories (plain or gzip) into the store at ``store``.

    Each file is parsed by the parser ``fmt`` names, or else by the first whose ``sniff`` recognises
    it. Files already in the manifest (by SHA-256) are skipped; files no parser recognises are
    reported, not raised. ``clock`` gives "now" for the plausibility check of timestamps and the
    manifest's ``ingested_at``. Raises IngestError for a path that does not exist or an unknown fmt.
    """
    if fmt is not None:
        get_parser(fmt)
    layout = StoreLayout(Path(store).resolve())
    files = discover(paths, exclude=layout.root)
    with writer_lock(layout):
        return _ingest_locked(layout, files, fmt, workers, progress, clock)


def _ingest_locked(
    layout: StoreLayout,
    files: list[Path],
    fmt: str | None,
    workers: int,
    progress: Callable[[ProgressUpdate], None] | None,
    clock: Clock,
) -> IngestReport:
    layout.ensure()
    remove_orphans(layout)
    now = clock()

    results: list[FileResult | None] = [None] * len(files)
    tasks: list[_Task] = []
    task_slot: list[int] = []
    seen: dict[str, str] = {}
    done = records = rejections = 0

    def tick(current: str) -> None:
        if progress is not None:
            progress(ProgressUpdate(done, len(files), records, rejections, current))

    for slot, f in enumerate(files):
        sha, size = hash_file(f)
        if sha in seen or is_ingested(layout, sha):
            entry = read_entry(layout, sha)
            parser = str(entry["parser"]) if entry else None
            why = f"same content as {seen[sha]}" if sha in seen else None
            results[slot] = FileResult(str(f), sha, parser, status=ALREADY_INGESTED, reason=why)
            done += 1
            tick(str(f))
            continue
        seen[sha] = str(f)
        tasks.append(_Task(str(f), sha, size, str(layout.root), fmt, now))
        task_slot.append(slot)

    for i, fut_or_outcome in _run(tasks, workers):
        task = tasks[i]
        try:
            outcome = (
                fut_or_outcome if isinstance(fut_or_outcome, _Outcome) else fut_or_outcome.result()
            )
        except Exception as exc:  # the worker process died
            outcome = _Outcome(None, None, f"{type(exc).__name__}: {exc}")
        result = _record(layout, task, outcome, clock)
        results[task_slot[i]] = result
        done += 1
        records += result.records_read
        rejections += result.records_rejected
        tick(task.path)

    return IngestReport(tuple(r for r in results if r is not None))


def _record(layout: StoreLayout, task: _Task, outcome: _Outcome, clock: Clock) -> FileResult:
    """Write the manifest row of a parsed file (last) and return its result."""
    if outcome.error is not None:
        return FileResult(task.path, task.sha256, outcome.parser, status=f"failed: {outcome.error}")
    w = outcome.written
    if outcome.parser is None or w is None:
        return FileResult(task.path, task.sha256, None, status=UNRECOGNISED, reason=NO_PARSER)
    read = w.records_stored + w.records_rejected
    write_manifest(
        layout,
        ManifestEntry(
            sha256=task.sha256,
            path=task.path,
            size=task.size,
            parser=outcome.parser,
            records_read=read,
            records_stored=w.records_stored,
            records_rejected=w.records_rejected,
            first_ts=w.first_ts,
            last_ts=w.last_ts,
            ingested_at=clock(),
            partitions=w.partitions,
            parquet_sha256=w.parquet_sha256,
        ),
    )
    return FileResult(
        task.path,
        task.sha256,
        outcome.parser,
        records_read=read,
        records_stored=w.records_stored,
        records_rejected=w.records_rejected,
        rejection_reasons=dict(sorted(w.reasons.items(), key=lambda kv: -kv[1])),
        status=INGESTED,
    )
