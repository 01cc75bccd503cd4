"""Verify a store's chain of custody: originals against their recorded hashes, Parquet files too.

An investigation's findings are only as good as the evidence behind them. ``verify`` re-hashes
every original input that is still where it was ingested from (zip members inside their archive)
and every Parquet file the store wrote, against the SHA-256 recorded at ingest time, lists files
in the store that no manifest row accounts for, and checks the manifest as a whole against its
hash chain (``chain``): a manifest row removed with its events, or edited, fails. Pass the chain
head recorded after an ingest (``expect_head``) to also catch a chain cut back to an earlier link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from ashiato.ingest.inputs import hash_input, ref_from_display
from ashiato.quote.term import markup, text
from ashiato.store.atomic import sha256_file
from ashiato.store.chain import ChainCheck
from ashiato.store.chain import check as check_chain
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest

OK, CHANGED, MISSING, NOT_KEPT = "ok", "changed", "missing", "not kept"


@dataclass(frozen=True)
class FileCheck:
    """One manifest row checked: the original input, and the store files it produced."""

    path: str
    sha256: str
    original: str  # ok | changed | missing | not kept (stdin)
    parquet_ok: int
    parquet_bad: tuple[str, ...]  # "<relative path>: changed|missing"


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[FileCheck, ...]
    unaccounted: tuple[str, ...]  # store files no manifest row names
    chain: ChainCheck

    @property
    def ok(self) -> bool:
        return (
            not self.unaccounted
            and self.chain.ok
            and all(
                c.original in (OK, MISSING, NOT_KEPT) and not c.parquet_bad for c in self.checks
            )
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(title=f"Chain of custody: {len(self.checks)} input(s)")
        for col in ("input", "sha256", "original", "store files"):
            t.add_column(col)
        for c in self.checks:
            style = {OK: "green", CHANGED: "bold red", MISSING: "yellow"}.get(c.original, "dim")
            files = f"{c.parquet_ok} ok" + (f", {len(c.parquet_bad)} bad" if c.parquet_bad else "")
            t.add_row(text(c.path), c.sha256[:16], f"[{style}]{c.original}[/]", files)
        yield t
        for c in self.checks:
            for bad in c.parquet_bad:
                yield f"[bold red]{markup(c.path)}: store file {markup(bad)}[/]"
        for u in self.unaccounted:
            yield f"[bold red]store file not in any manifest row: {markup(u)}[/]"
        for p in self.chain.problems:
            yield f"[bold red]manifest chain: {markup(p)}[/]"
        for n in self.chain.notes:
            yield f"[yellow]manifest chain: {markup(n)}[/]"
        if self.chain.head is not None:
            yield f"chain head: {self.chain.head} ({self.chain.length} links)"
        yield "[green]verified[/]" if self.ok else "[bold red]verification FAILED[/]"


def _check_original(display: str, sha256: str) -> str:
    ref = ref_from_display(display)
    if ref is None:
        return NOT_KEPT
    if not Path(ref.path).is_file():
        return MISSING
    try:
        digest, _ = hash_input(ref)
    except (OSError, KeyError):
        return MISSING
    return OK if digest == sha256 else CHANGED


def verify(
    layout: StoreLayout,
    progress: Callable[[int, int], None] | None = None,
    *,
    expect_head: str | None = None,
) -> VerifyReport:
    """Check every manifest row of the store at ``layout``, and the manifest's hash chain.

    ``expect_head`` is a chain head printed by an earlier ingest (at least 12 hex digits): the
    check fails unless the chain still holds it, which catches a chain cut back to an earlier link
    together with the newest inputs (what the chain alone cannot show).
    """
    rows = read_manifest(layout).to_pylist()
    checks: list[FileCheck] = []
    named: set[Path] = set()
    for i, r in enumerate(sorted(rows, key=lambda r: r["path"])):
        bad: list[str] = []
        good = 0
        for rel, digest in zip(r["partitions"] or [], r["parquet_sha256"] or [], strict=True):
            f = layout.root / rel
            named.add(f.resolve())
            if not f.is_file():
                bad.append(f"{rel}: missing")
            elif sha256_file(f) != digest:
                bad.append(f"{rel}: changed")
            else:
                good += 1
        checks.append(
            FileCheck(
                r["path"], r["sha256"], _check_original(r["path"], r["sha256"]), good, tuple(bad)
            )
        )
        if progress:
            progress(i + 1, len(rows))
    present = [
        *layout.events_dir.glob("day=*/*.parquet"),
        *layout.rejects_dir.glob("*.parquet"),
    ]
    unaccounted = sorted(
        str(p.relative_to(layout.root)) for p in present if p.resolve() not in named
    )
    return VerifyReport(tuple(checks), tuple(unaccounted), check_chain(layout, expect_head))
