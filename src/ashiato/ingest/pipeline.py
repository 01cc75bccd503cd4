"""Run an ingest: find inputs, hash them, parse the new ones in worker processes, record them.

The parent hashes each input (so the same bytes are never ingested twice, even under two names in
one run), hands new ones to a process pool, and commits each input itself once a worker has stored
its events and rejections: it drops the records the store already held (``store.dedup``, serially,
so parallel workers cannot race), writes the manifest row, then the manifest chain's link. Orphans
of a killed run are removed and the chain repaired first. An input that fails at any step leaves
nothing in the store and is reported as failed.

Commits are grouped (``_Committer``): the inputs parsed so far (up to ``GROUP_INPUTS``, or
``GROUP_SECONDS`` after the first) are committed together, with one ``syncfs(2)`` per group
where Linux has it rather than two fsyncs per file written. Each sync makes the group's events
and rejections durable before its manifest rows are written, and the previous group's rows
durable before their chain links are: a row never names events a power cut could lose, and a
link never names a row it could lose, as when each file was synced on its own. A collection of
hundreds of small logs no longer pays half a dozen journal commits per file.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
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
from ashiato.store.atomic import can_sync_filesystem, make_durable
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

GROUP_INPUTS = 128
"""Inputs committed together at most (see the module docstring)."""
GROUP_SECONDS = 0.25
"""How long a parsed input may wait for others before its group is committed. Short, since a
group still waiting when the workers finish is committed after them, at ~2-3 ms of CPU an
input; four syncfs a second cost little beside that."""


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
    sync: bool = True  # fsync each file written; False: the parent syncs the group at once


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
    writer = FileWriter(layout, task.sha256, parser.name, ref.display, sync=task.sync)
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


def _pool_context() -> multiprocessing.context.BaseContext:
    """How workers start: forked from this process when that is safe, else from a fork server.

    A fork costs nothing: the worker has every module this process imported. It is safe only
    while this process runs no other thread (a thread holding a lock at the fork, a progress
    bar's writing to stderr, would leave it held forever in the worker) and has not loaded
    DuckDB (whose native threads ``threading`` cannot see); the CLI keeps both true. Otherwise
    workers fork from a server that imported the ingest code once and is single-threaded: its
    start costs this process most of a second (a fresh interpreter importing pyarrow and the
    parsers), still less than the spawned interpreter each worker needs where POSIX has neither.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "duckdb" not in sys.modules:
        return multiprocessing.get_context("fork")
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    return ctx


def _exit_with_parent() -> None:
    """Worker start: exit as soon as the process that started this worker dies.

    A worker forked from the caller holds every file the caller had open, the store's writer
    lock among them; killed alone, the caller would leave its workers waiting for work forever
    and the store locked against the next ingest. A thread waits for the end of the pipe the
    parent holds (its sentinel) and ends the worker then; the next ingest removes what it left.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="ashiato-parent-watch", daemon=True).start()


def _run(
    tasks: Iterable[_Task], workers: int
) -> Iterator[tuple[int, Future[_Outcome] | _Outcome | None, bool]]:
    """Yield (task index, outcome or future, whether to wait for more) as each finishes; while
    workers are busy, (-1, None, True) every ``GROUP_SECONDS`` so a waiting group is committed.

    ``tasks`` is consumed as it comes (the caller hashes each input as it hands it over): the
    workers parse the first inputs while later ones are still being hashed. Waiting for more
    before a commit is worth it while more will come, and with workers only while some of them
    are not being parsed yet: a group committed while the workers parse the last inputs costs
    no time at the end, where one waiting for them would.
    """
    if workers <= 1:
        it = iter(tasks)
        i, task = 0, next(it, None)
        while task is not None:
            after = next(it, None)
            yield i, process_file(task), after is not None
            i, task = i + 1, after
        return
    ctx = _pool_context()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_exit_with_parent
    ) as pool:
        futures: dict[Future[_Outcome], int] = {}
        for t in tasks:
            try:
                fut = pool.submit(process_file, t)
            except BrokenProcessPool as exc:  # a worker died: this input fails like the others
                fut = Future()
                fut.set_exception(exc)
            futures[fut] = len(futures)
        pending: set[Future[_Outcome]] = set(futures)
        while pending:
            done, pending = wait(pending, timeout=GROUP_SECONDS, return_when=FIRST_COMPLETED)
            if not done:
                yield -1, None, True
            ready = sorted(done, key=futures.__getitem__)
            for k, fut in enumerate(ready):
                yield futures[fut], fut, len(pending) + len(ready) - k - 1 > workers


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

    deferred = can_sync_filesystem()

    def new_tasks() -> Iterator[_Task]:
        """Hash each input; report those the store holds, hand over the others."""
        nonlocal done
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
            task = _Task(ref, sha, size, str(layout.root), fmt, now, tz, options, not deferred)
            tasks.append(task)
            task_slot.append(slot)
            yield task

    dedup = Deduplicator(layout)
    committer = _Committer(layout, clock, dedup, chain, deferred)
    group: list[tuple[int, _Task, _Outcome]] = []
    since = 0.0

    def count(finished: list[tuple[int, FileResult]]) -> None:
        nonlocal done, records, rejections
        for slot, result in finished:
            results[slot] = result
            done += 1
            records += result.records_read
            rejections += result.records_rejected
            tick(result.path)

    try:
        for i, fut_or_outcome, wait_more in _run(new_tasks(), workers if len(files) > 1 else 1):
            if fut_or_outcome is None:  # workers still busy: commit what waited long enough
                if group and time.monotonic() - since >= GROUP_SECONDS:
                    count(committer.commit(group))
                    group = []
                continue
            task = tasks[i]
            try:
                outcome = (
                    fut_or_outcome
                    if isinstance(fut_or_outcome, _Outcome)
                    else fut_or_outcome.result()
                )
            except Exception as exc:  # the worker process died
                outcome = _Outcome(None, None, f"{type(exc).__name__}: {exc}")
            if not group:
                since = time.monotonic()
            group.append((task_slot[i], task, outcome))
            if wait_more and len(group) < GROUP_INPUTS and time.monotonic() - since < GROUP_SECONDS:
                continue
            count(committer.commit(group))
            group = []
        count(committer.finish())
    finally:
        dedup.close()
    return IngestReport(tuple(r for r in results if r is not None))


@dataclass
class _Staged:
    """An input whose manifest row is written and whose chain link is still to write."""

    slot: int
    task: _Task
    entry: ManifestEntry
    digest: str
    written: WrittenFile
    result: FileResult


class _Committer:
    """Commits groups of parsed inputs in order, pipelined so that one ``syncfs`` a group makes
    the group's events durable before its manifest rows are written *and* the previous group's
    rows durable before their chain links are written (see the module docstring). Without
    ``deferred`` (no ``syncfs``) every file is synced on its own as it is written."""

    def __init__(
        self,
        layout: StoreLayout,
        clock: Clock,
        dedup: Deduplicator,
        chain: ChainWriter,
        deferred: bool,
    ) -> None:
        self._layout = layout
        self._clock = clock
        self._dedup = dedup
        self._chain = chain
        self._deferred = deferred
        self._staged: list[_Staged] = []

    def _durable(self) -> None:
        if self._deferred:
            make_durable(self._layout.root)

    def commit(self, group: list[tuple[int, _Task, _Outcome]]) -> list[tuple[int, FileResult]]:
        """Stage ``group`` (rows written); return the inputs the previous group finished."""
        self._durable()  # this group's events and rejections, the previous group's rows
        finished = self._link()
        for slot, task, outcome in group:
            result, row = _record(
                self._layout, task, outcome, self._clock, self._dedup, sync=not self._deferred
            )
            if row is None:
                finished.append((slot, result))
            else:
                self._staged.append(_Staged(slot, task, *row, result))
        return finished

    def finish(self) -> list[tuple[int, FileResult]]:
        """Link the last group; return what it finished."""
        if not self._staged:
            return []
        self._durable()  # the last rows
        finished = self._link()
        self._durable()  # the last links
        return finished

    def _link(self) -> list[tuple[int, FileResult]]:
        """Append the staged inputs' links, in order. A link that cannot be written fails its
        input and every later staged one (their duplicates were judged against it)."""
        staged, self._staged = self._staged, []
        out: list[tuple[int, FileResult]] = []
        for n, st in enumerate(staged):
            try:
                self._chain.append(st.entry, st.digest, sync=not self._deferred)
            except Exception as exc:
                for k, rest in enumerate(staged[n:]):
                    manifest_path(self._layout, rest.task.sha256).unlink(missing_ok=True)
                    remove_input(self._layout, rest.task.sha256)
                    self._dedup.forget(rest.written)
                    why = f"{type(exc).__name__}: {exc}" if k == 0 else "an earlier link failed"
                    failed = FileResult(
                        rest.task.ref.display,
                        rest.task.sha256,
                        rest.result.parser,
                        status=f"failed: {why}",
                    )
                    out.append((rest.slot, failed))
                break
            out.append((st.slot, st.result))
        return out


def _record(
    layout: StoreLayout,
    task: _Task,
    outcome: _Outcome,
    clock: Clock,
    dedup: Deduplicator,
    *,
    sync: bool = True,
) -> tuple[FileResult, tuple[ManifestEntry, str, WrittenFile] | None]:
    """Commit a parsed file up to its manifest row: drop what the store holds, write the row.

    Returns the result and, when the row was written, what its chain link needs.
    """
    if outcome.error is not None:
        failed = FileResult(
            task.ref.display, task.sha256, outcome.parser, status=f"failed: {outcome.error}"
        )
        return failed, None
    w = outcome.written
    if outcome.parser is None or w is None:
        unknown = FileResult(
            task.ref.display, task.sha256, None, status=UNRECOGNISED, reason=NO_PARSER
        )
        return unknown, None
    try:
        w = dedup.against_store(w)
        entry = _entry(task, outcome.parser, w, clock())
        digest = write_manifest(layout, entry, sync=sync)
    except Exception as exc:  # a full disk, an I/O error: this input is not stored at all
        manifest_path(layout, task.sha256).unlink(missing_ok=True)
        remove_input(layout, task.sha256)
        failed = FileResult(
            task.ref.display,
            task.sha256,
            outcome.parser,
            status=f"failed: {type(exc).__name__}: {exc}",
        )
        return failed, None
    dedup.committed(w)
    stored = FileResult(
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
    return stored, (entry, digest, w)


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
