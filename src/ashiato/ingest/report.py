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
        for f in self.files:
            warn = f.status in (UNRECOGNISED, SKIPPED)
            style = "red" if f.failed else ("yellow" if warn else None)
            status = f"{f.status} ({f.reason})" if f.reason else f.status
            counts = [f.records_read, f.records_stored, f.records_rejected]
            if dups:
                counts.append(f.records_duplicate)
            table.add_row(
                text(f.path),
                text(f.parser or "-"),
                *(f"{n:,}" for n in counts),
                text(status),
                style=style,
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
