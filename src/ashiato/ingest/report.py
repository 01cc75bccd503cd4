"""What an ingest run tells its caller: per-file results, totals, progress, and how they render.

The CLI stays thin: it passes a progress callback and prints the report, which knows how to draw
itself as a Rich table (conventions §10).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rich.console import Group, RenderableType
from rich.table import Table

from ashiato.quote.term import text

INGESTED = "ingested"
ALREADY_INGESTED = "already ingested"
UNRECOGNISED = "unrecognised"
SKIPPED = "skipped"
NO_PARSER = "no parser recognises this file"


@dataclass(frozen=True)
class FileResult:
    """The outcome of one input file.

    ``status`` is "ingested", "already ingested", "unrecognised", "skipped" (a symbolic link
    not followed) or "failed: <why>"; ``reason`` explains a skip (for example "no parser
    recognises this file"). Counts are of this run: a file already ingested stores nothing and
    reports zeros; ``records_read`` = stored + rejected + duplicate (records the store held
    already, from another input or earlier in this one).
    """

    path: str
    sha256: str
    parser: str | None
    records_read: int = 0
    records_stored: int = 0
    records_rejected: int = 0
    records_duplicate: int = 0
    rejection_reasons: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    status: str = INGESTED
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.status.startswith("failed")


@dataclass(frozen=True)
class ProgressUpdate:
    """Progress of a run, sent after each input file is done (or skipped)."""

    files_done: int
    files_total: int
    records: int
    rejections: int
    current: str | None = None


@dataclass(frozen=True)
class IngestReport:
    """All per-file results of one ingest run, in input order, with totals.

    ``chain_head`` is the manifest chain's head after the run, (sequence number, hash): keep it
    outside the store and pass it to ``store verify --expect-head`` later. ``recovered`` lists the
    inputs whose manifest rows had no chain link yet (a store from before the chain, or an
    interrupted ingest) and were chained at the start of this run.
    """

    files: tuple[FileResult, ...]
    chain_head: tuple[int, str] | None = None
    recovered: tuple[str, ...] = ()

    @property
    def records_read(self) -> int:
        return sum(f.records_read for f in self.files)

    @property
    def records_stored(self) -> int:
        return sum(f.records_stored for f in self.files)

    @property
    def records_rejected(self) -> int:
        return sum(f.records_rejected for f in self.files)

    @property
    def records_duplicate(self) -> int:
        return sum(f.records_duplicate for f in self.files)

    @property
    def failures(self) -> tuple[FileResult, ...]:
        """The inputs that could not be stored (nothing of them is in the store)."""
        return tuple(f for f in self.files if f.failed)

    def count(self, status: str) -> int:
        """How many files ended with this status ("failed" matches every failure)."""
        return sum(1 for f in self.files if f.status == status or f.status.startswith(status))

    @property
    def rejection_reasons(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.rejection_reasons)
        return dict(total.most_common())

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not any(f.failed for f in self.files)

    def __rich__(self) -> RenderableType:
        table = Table(title="Ingest", show_footer=True)
        table.add_column("file", footer="total", overflow="fold")
        table.add_column("parser")
        table.add_column("read", justify="right", footer=f"{self.records_read:,}")
        table.add_column("stored", justify="right", footer=f"{self.records_stored:,}")
        table.add_column("rejected", justify="right", footer=f"{self.records_rejected:,}")
        dups = self.records_duplicate > 0  # the column only when there are some
        if dups:
            table.add_column("duplicate", justify="right", footer=f"{self.records_duplicate:,}")
        table.add_column("status", footer=f"{len(self.files)} files")
        for row in _rows(self.files):
            warn = row.status in (UNRECOGNISED, SKIPPED)
            style = "red" if row.status.startswith("failed") else ("yellow" if warn else None)
            status = f"{row.status} ({row.reason})" if row.reason else row.status
            counts = [row.read, row.stored, row.rejected]
            if dups:
                counts.append(row.duplicate)
            table.add_row(
                text(row.name),
                text(row.parser),
                *(f"{n:,}" for n in counts),
                text(status),
                style=style,
            )
        if len(self.files) > LIST_EVERY_FILE:
            table.caption = (
                "files stored in full are summed per directory; `ashiato store manifest` "
                "lists every file"
            )
        parts: list[RenderableType] = [table]
        if self.recovered:
            parts.append(
                f"manifest chain: {len(self.recovered)} input(s) ingested before were chained "
                "(a store from before the chain, or an interrupted ingest)"
            )
        if self.chain_head is not None:
            seq, head = self.chain_head
            parts.append(f"chain head: {head} (link {seq}); keep it to check the store later")
        reasons = self.rejection_reasons
        if not reasons:
            return Group(*parts)
        why = Table(title="Rejections by reason")
        why.add_column("reason", overflow="fold")
        why.add_column("records", justify="right")
        for reason, n in list(reasons.items())[:20]:
            why.add_row(text(reason), f"{n:,}")
        if len(reasons) > 20:
            why.add_row(f"... {len(reasons) - 20} more reasons", "")
        return Group(*parts, why)


LIST_EVERY_FILE = 40
"""Up to this many files the table has a row for each; past it, one row for each file that
needs a look (not stored in full: rejections, duplicates, failed, skipped...) and one per
directory for the rest. A collection of hundreds of logs otherwise scrolls by, and a Rich
table of that size takes longer to draw (half a second for 356 files) than to ingest them."""
MAX_NOTED_FILES = 200
"""Files past this many that need a look are summed per directory and status too."""


@dataclass(frozen=True)
class _Row:
    name: str
    parser: str
    read: int
    stored: int
    rejected: int
    duplicate: int
    status: str
    reason: str | None = None


def _row(f: FileResult) -> _Row:
    return _Row(
        f.path,
        f.parser or "-",
        f.records_read,
        f.records_stored,
        f.records_rejected,
        f.records_duplicate,
        f.status,
        f.reason,
    )


def _noted(f: FileResult) -> bool:
    """Whether a file needs a row of its own in a long report: anything but stored in full."""
    return f.status != INGESTED or f.records_rejected > 0 or f.records_duplicate > 0


def _rows(files: tuple[FileResult, ...]) -> list[_Row]:
    """The table's rows: each file, or in a long report the files of note and the rest summed
    per (directory, status), each group where its first file came."""
    if len(files) <= LIST_EVERY_FILE:
        return [_row(f) for f in files]
    rows: list[_Row | list[FileResult]] = []
    groups: dict[tuple[str, str], list[FileResult]] = {}
    noted = 0
    for f in files:
        if _noted(f) and noted < MAX_NOTED_FILES:
            noted += 1
            rows.append(_row(f))
            continue
        key = (f.path.rpartition("/")[0] or ".", f.status)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
            rows.append(group)
        group.append(f)
    return [r if isinstance(r, _Row) else _summed(r) for r in rows]


def _summed(group: list[FileResult]) -> _Row:
    if len(group) == 1:
        return _row(group[0])
    parsers = sorted({f.parser or "-" for f in group})
    return _Row(
        f"{group[0].path.rpartition('/')[0] or '.'}/ ({len(group)} files)",
        ", ".join(parsers),
        sum(f.records_read for f in group),
        sum(f.records_stored for f in group),
        sum(f.records_rejected for f in group),
        sum(f.records_duplicate for f in group),
        group[0].status,
    )
