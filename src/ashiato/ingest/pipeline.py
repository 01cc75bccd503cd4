"""Run an ingest: find inputs, hash them, parse the new ones in worker processes, record them.

The parent hashes each input (so the same bytes are never ingested twice, even under two names in
one run), hands new ones to a process pool, and commits each input itself once a worker has stored
its events and rejections: it drops the records the store already held (``store.dedup``, serially,
so parallel workers cannot race), writes the manifest row, then the manifest chain's link. Orphans
of a killed run are removed and the chain repaired first. An input that fails at any step leaves
nothing in the store and is reported as failed.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ashiato.errors import IngestError
from ashiato.ingest.base import ParseContext, Parser
from ashiato.ingest.inputs import InputRef, discover_inputs, hash_input, open_input, read_head
from ashiato.ingest.registry import SNIFF_BYTES, detect, get_parser
from ashiato.ingest.report import (
    ALREADY_INGESTED,
    INGESTED,
    NO_PARSER,
    SKIPPED,
    UNRECOGNISED,
    FileResult,
    IngestReport,
    ProgressUpdate,
)
from ashiato.store.chain import ChainWriter
from ashiato.store.dedup import Deduplicator, within_input
from ashiato.store.layout import StoreLayout, writer_lock
from ashiato.store.manifest import (
    ManifestEntry,
    is_ingested,
    manifest_path,
    read_entry,
    write_manifest,
)
from ashiato.store.writer import FileWriter, WrittenFile, remove_input, remove_orphans

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Task:
    ref: InputRef
    sha256: str
    size: int
    store: str
    fmt: str | None
    now: datetime
    tz: str | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Outcome:
    parser: str | None
    written: WrittenFile | None
    error: str | None = None


def process_file(task: _Task) -> _Outcome:
    """Sniff, parse and store one input (runs in a worker process); never writes the manifest."""
    ref = task.ref
    problem = None
    try:
        if task.fmt:
            parser: Parser | None = get_parser(task.fmt)
        else:
            head, problem = read_head(ref, SNIFF_BYTES)
            parser = detect(head, ref.name)
    except Exception as exc:  # unreadable file
        return _Outcome(None, None, f"{type(exc).__name__}: {exc}")
    if parser is None:
        # Nothing readable to recognise: say why rather than "no parser recognises this file".
        return _Outcome(None, None, f"unreadable: {problem}" if problem else None)
    layout = StoreLayout(Path(task.store))
    ctx = ParseContext(
        sha256=task.sha256, path=ref.display, now=task.now, tz=task.tz, options=dict(task.options)
    )
    writer = FileWriter(layout, task.sha256, parser.name, ref.display)
    try:
        with open_input(ref) as stream:
            for pb in parser.parse(stream, ctx):
                writer.add(pb.batch, pb.rejections)
        written = writer.finish()
        repeated = writer.repeated_keys()
        if len(repeated):
            written = within_input(layout, written, repeated)
        return _Outcome(parser.name, written)
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
    tz: str | None = None,
    options: Mapping[str, str] | None = None,
    follow_symlinks: bool = False,
) -> IngestReport:
    """Ingest files, directories, globs, zip archives, gzip/bz2 streams or ``-`` (stdin).

    Each input is parsed by the parser ``fmt`` names, or else by the first whose ``sniff``
    recognises it. Inputs already in the manifest (by SHA-256) are skipped; inputs no parser
    recognises are reported, not raised; records the store already holds (by their identity, see
    docs/formats.md) are counted as duplicates and not stored again. Symbolic links inside a
    directory or glob that lead out of it are skipped and reported unless ``follow_symlinks``.
    ``clock`` gives "now" for the plausibility check of timestamps and the manifest's
    ``ingested_at``; ``tz`` is the time zone of sources whose timestamps carry none; ``options``
    are parser options (``lanl.epoch``, ``mapping``, ...). An input that cannot be stored (an
    I/O error, a full disk) is reported as failed (``IngestReport.failures``) and leaves nothing
    behind. Raises IngestError for a path that matches nothing, an unknown ``fmt`` or ``tz``.
    """
    if fmt is not None:
        get_parser(fmt)
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise IngestError(
                f"unknown time zone {tz!r} (use an IANA name such as Asia/Tokyo)"
            ) from exc
    layout = StoreLayout(Path(store).resolve())
    with writer_lock(layout):
        layout.ensure()
        remove_orphans(layout)
        chain = ChainWriter(layout)
        found = discover_inputs(
            paths, exclude=layout.root, stdin_dir=layout.tmp_dir, follow_symlinks=follow_symlinks
        )
        inputs = found.refs
        try:
            report = _ingest_locked(
                layout,
                inputs,
                fmt,
                workers,
                progress,
                clock,
                tz,
                tuple(sorted((options or {}).items())),
                chain,
            )
        finally:
            for ref in inputs:
                if ref.label == "<stdin>":
                    Path(ref.path).unlink(missing_ok=True)
    skipped = tuple(
        FileResult(link.path, "", None, status=SKIPPED, reason=f"{link.reason}: {link.target}")
        for link in found.skipped
    )
    return IngestReport(report.files + skipped, chain.head, tuple(chain.recovered))


def _ingest_locked(
    layout: StoreLayout,
    files: list[InputRef],
    fmt: str | None,
    workers: int,
    progress: Callable[[ProgressUpdate], None] | None,
    clock: Clock,
    tz: str | None,
    options: tuple[tuple[str, str], ...],
    chain: ChainWriter,
) -> IngestReport:
    now = clock()
    results: list[FileResult | None] = [None] * len(files)
    tasks: list[_Task] = []
    task_slot: list[int] = []
    seen: dict[str, str] = {}
    done = records = rejections = 0

    def tick(current: str) -> None:
        if progress is not None:
            progress(ProgressUpdate(done, len(files), records, rejections, current))

    for slot, ref in enumerate(files):
        sha, size = hash_input(ref)
        if sha in seen or is_ingested(layout, sha):
            entry = read_entry(layout, sha)
            parser = str(entry["parser"]) if entry else None
            why = f"same content as {seen[sha]}" if sha in seen else None
            results[slot] = FileResult(
                ref.display, sha, parser, status=ALREADY_INGESTED, reason=why
            )
            done += 1
            tick(ref.display)
            continue
        seen[sha] = ref.display
        tasks.append(_Task(ref, sha, size, str(layout.root), fmt, now, tz, options))
        task_slot.append(slot)

    dedup = Deduplicator(layout)
    try:
        for i, fut_or_outcome in _run(tasks, workers):
            task = tasks[i]
            try:
                outcome = (
                    fut_or_outcome
                    if isinstance(fut_or_outcome, _Outcome)
                    else fut_or_outcome.result()
                )
            except Exception as exc:  # the worker process died
                outcome = _Outcome(None, None, f"{type(exc).__name__}: {exc}")
            result = _record(layout, task, outcome, clock, dedup, chain)
            results[task_slot[i]] = result
            done += 1
            records += result.records_read
            rejections += result.records_rejected
            tick(task.ref.display)
    finally:
        dedup.close()
    return IngestReport(tuple(r for r in results if r is not None))


def _record(
    layout: StoreLayout,
    task: _Task,
    outcome: _Outcome,
    clock: Clock,
    dedup: Deduplicator,
    chain: ChainWriter,
) -> FileResult:
    """Commit a parsed file: drop what the store holds, write its manifest row, then its link."""
    if outcome.error is not None:
        return FileResult(
            task.ref.display, task.sha256, outcome.parser, status=f"failed: {outcome.error}"
        )
    w = outcome.written
    if outcome.parser is None or w is None:
        return FileResult(
            task.ref.display, task.sha256, None, status=UNRECOGNISED, reason=NO_PARSER
        )
    try:
        w = dedup.against_store(w)
        entry = _entry(task, outcome.parser, w, clock())
        digest = write_manifest(layout, entry)
        try:
            chain.append(entry, digest)
        except BaseException:
            manifest_path(layout, task.sha256).unlink(missing_ok=True)
            raise
    except Exception as exc:  # a full disk, an I/O error: this input is not stored at all
        remove_input(layout, task.sha256)
        return FileResult(
            task.ref.display,
            task.sha256,
            outcome.parser,
            status=f"failed: {type(exc).__name__}: {exc}",
        )
    dedup.committed(w)
    return FileResult(
        task.ref.display,
        task.sha256,
        outcome.parser,
        records_read=entry.records_read,
        records_stored=w.records_stored,
        records_rejected=w.records_rejected,
        records_duplicate=w.records_duplicate,
        rejection_reasons=dict(sorted(w.reasons.items(), key=lambda kv: -kv[1])),
        status=INGESTED,
    )


def _entry(task: _Task, parser: str, w: WrittenFile, now: datetime) -> ManifestEntry:
    return ManifestEntry(
        sha256=task.sha256,
        path=task.ref.display,
        size=task.size,
        parser=parser,
        records_read=w.records_stored + w.records_rejected + w.records_duplicate,
        records_stored=w.records_stored,
        records_rejected=w.records_rejected,
        records_duplicate=w.records_duplicate,
        first_ts=w.first_ts,
        last_ts=w.last_ts,
        ingested_at=now,
        partitions=w.partitions,
        parquet_sha256=w.parquet_sha256,
    )
