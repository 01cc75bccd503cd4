"""The manifest's hash chain: makes the evidence manifest tamper-evident as a whole.

Each manifest row is its own file, so its SHA-256 proves the row unchanged, but nothing in one row
proves that no *other* row (with its events) was removed. The chain does: every commit appends one
line to ``manifest/chain.jsonl`` holding a sequence number, the input's SHA-256 and path, the
manifest file's SHA-256, the input's counts, the running totals of the whole store, the previous
line's hash and its own (SHA-256 of the line's canonical JSON without ``hash``). ``verify`` then
fails, naming the link, when a manifest row is edited (its file hash differs), removed with its
events (a link names an input the store lacks), added outside ingest (a row no link names), or a
line of the chain is edited (its hash, or the next line's ``prev``, no longer matches).

What a chain alone cannot show is that its *tail* was cut off together with the newest inputs:
the remaining links are all consistent. The defence is outside the store: ``ashiato ingest`` prints
the chain head (the last link's hash) at the end of every run, ``store manifest`` and ``store
verify`` print it too, and ``store verify --expect-head HASH`` fails unless the chain still holds
the head recorded earlier (write it in the case notes or a ticket). Anyone able to rewrite the
whole store can also rewrite a consistent chain: only a head kept elsewhere detects that.

Stores written before the chain existed have no ``chain.jsonl``: ``verify`` says so (no chain,
store predates it) without failing, and the next ingest starts the chain by appending one link
per existing manifest row, marked ``recovered``. The same recovery adopts a manifest row whose link
an interrupted ingest never wrote (the row is written first, the link second); recovered links are
listed by ``verify``. A missing chain in a store whose manifest rows were written by a chain-aware
ingest is a failure: the chain was deleted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from ashiato.store.atomic import sha256_file
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import ManifestEntry, manifest_path, read_manifest

GENESIS = "0" * 64
"""The ``prev`` of the first link."""
COUNTS = ("read", "stored", "rejected", "duplicate")
CHAIN_AWARE_COLUMN = "records_duplicate"
"""A manifest file with this column was written by an ingest that also wrote a chain link."""


def chain_path(layout: StoreLayout) -> Path:
    return layout.manifest_dir / "chain.jsonl"


def link_hash(link: Mapping[str, Any]) -> str:
    """SHA-256 of the link's canonical JSON (sorted keys), ``hash`` left out."""
    body = {k: v for k, v in link.items() if k != "hash"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _counts(entry: ManifestEntry) -> dict[str, int]:
    return {
        "read": entry.records_read,
        "stored": entry.records_stored,
        "rejected": entry.records_rejected,
        "duplicate": entry.records_duplicate,
    }


@dataclass(frozen=True)
class Chain:
    """The links as read, and a trailing partial line (an append interrupted by a crash)."""

    links: tuple[dict[str, Any], ...]
    torn: bool = False
    bad_lines: tuple[int, ...] = ()

    @property
    def head(self) -> str | None:
        return str(self.links[-1]["hash"]) if self.links else None


def read_chain(layout: StoreLayout) -> Chain | None:
    """The chain of the store at ``layout``, or None if it has none.

    A last line without its newline is an append cut short by a crash: it is left out of the
    links and flagged as ``torn`` (``recover`` removes it).
    """
    p = chain_path(layout)
    if not p.is_file():
        return None
    lines = p.read_bytes().split(b"\n")
    torn = bool(lines.pop())  # the piece after the last newline: empty unless torn
    links: list[dict[str, Any]] = []
    bad: list[int] = []
    for i, line in enumerate(lines, 1):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            links.append(obj)
        else:
            bad.append(i)
    return Chain(tuple(links), torn, tuple(bad))


def head(layout: StoreLayout) -> tuple[int, str] | None:
    """(sequence number, hash) of the chain's last link, or None without a chain."""
    chain = read_chain(layout)
    if chain is None or not chain.links:
        return None
    last = chain.links[-1]
    return int(last["seq"]), str(last["hash"])


class ChainWriter:
    """Appends one link per commit of an ingest run (under the store's writer lock).

    Opening it repairs the chain (``recover``); it then keeps the last link, so that a commit
    costs one append rather than a re-read of the whole chain.
    """

    def __init__(self, layout: StoreLayout) -> None:
        self._layout = layout
        self.recovered, self._last = recover(layout)

    @property
    def head(self) -> tuple[int, str] | None:
        """(sequence number, hash) of the last link, or None while the chain is empty."""
        if self._last is None:
            return None
        return int(self._last["seq"]), str(self._last["hash"])

    def append(
        self, entry: ManifestEntry, manifest_sha256: str, *, sync: bool = True
    ) -> dict[str, Any]:
        """Append the link of a manifest row just written (``sync=False``: the caller makes it
        durable later, and only after the row itself)."""
        self._last = _append(
            self._layout, self._last, entry, manifest_sha256, recovered=False, sync=sync
        )
        return self._last


def _append(
    layout: StoreLayout,
    prev: Mapping[str, Any] | None,
    entry: ManifestEntry,
    manifest_sha256: str,
    recovered: bool,
    sync: bool = True,
) -> dict[str, Any]:
    counts = _counts(entry)
    before = prev["totals"] if prev else {"inputs": 0, **dict.fromkeys(COUNTS, 0)}
    totals = {"inputs": before["inputs"] + 1, **{k: before[k] + counts[k] for k in COUNTS}}
    link: dict[str, Any] = {
        "seq": (int(prev["seq"]) if prev else 0) + 1,
        "sha256": entry.sha256,
        "path": entry.path,
        "manifest_sha256": manifest_sha256,
        "records": counts,
        "totals": totals,
        "at": entry.ingested_at.isoformat(),
        "prev": str(prev["hash"]) if prev else GENESIS,
    }
    if recovered:
        link["recovered"] = True
    link["hash"] = link_hash(link)
    line = orjson.dumps(link) + b"\n"
    p = chain_path(layout)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    size = os.fstat(fd).st_size
    try:
        if os.write(fd, line) != len(line):
            raise OSError(f"{p}: short write (disk full?)")
        if sync:
            os.fsync(fd)
    except BaseException:
        os.ftruncate(fd, size)  # no half line for the next append to follow
        raise
    finally:
        os.close(fd)
    return link


def _entry(row: Mapping[str, Any]) -> ManifestEntry:
    return ManifestEntry(
        sha256=row["sha256"],
        path=row["path"],
        size=row["size"],
        parser=row["parser"],
        records_read=row["records_read"],
        records_stored=row["records_stored"],
        records_rejected=row["records_rejected"],
        records_duplicate=row["records_duplicate"] or 0,
        first_ts=row["first_ts"],
        last_ts=row["last_ts"],
        ingested_at=row["ingested_at"],
        partitions=row["partitions"] or [],
        parquet_sha256=row["parquet_sha256"] or [],
    )


def recover(layout: StoreLayout) -> tuple[list[str], dict[str, Any] | None]:
    """Repair the chain at the start of an ingest; return the inputs it adopted, and the last link.

    Drops a torn last line (a crash mid-append), then appends a ``recovered`` link for every
    manifest row no link names: all rows of a store from before the chain, or the row of an
    input whose ingest was killed between writing its manifest row and its link.
    """
    chain = read_chain(layout)
    if chain is not None and chain.torn:
        p = chain_path(layout)
        cut = p.read_bytes().rfind(b"\n") + 1
        with p.open("r+b") as fh:
            fh.truncate(cut)
            os.fsync(fh.fileno())
        chain = read_chain(layout)
    links = list(chain.links) if chain else []
    named = {str(link.get("sha256")) for link in links}
    rows = [r for r in read_manifest(layout).to_pylist() if r["sha256"] not in named]
    adopted = []
    prev: dict[str, Any] | None = links[-1] if links else None
    for r in sorted(rows, key=lambda r: (r["ingested_at"], r["sha256"])):
        digest = sha256_file(manifest_path(layout, r["sha256"]))
        prev = _append(layout, prev, _entry(r), digest, True)
        adopted.append(str(r["path"]))
    return adopted, prev


@dataclass(frozen=True)
class ChainCheck:
    """What ``check`` found: problems (each fails verification), notes, and the head."""

    problems: tuple[str, ...]
    notes: tuple[str, ...]
    head: str | None
    length: int
    present: bool

    @property
    def ok(self) -> bool:
        return not self.problems


def _chain_aware(files: Sequence[Path]) -> bool:
    return any(CHAIN_AWARE_COLUMN in pq.read_schema(f).names for f in files)


def check(layout: StoreLayout, expect_head: str | None = None) -> ChainCheck:
    """Check the chain against the manifest rows present (see the module docstring)."""
    files = sorted(layout.manifest_dir.glob("*.parquet")) if layout.manifest_dir.is_dir() else []
    chain = read_chain(layout)
    problems: list[str] = []
    notes: list[str] = []
    if chain is None:
        if files and _chain_aware(files):
            problems.append("the manifest's hash chain (manifest/chain.jsonl) is missing")
        elif files:
            notes.append("no chain (store predates it): the next ingest starts one")
        if expect_head:
            problems.append(f"expected chain head {expect_head} not found: the store has no chain")
        return ChainCheck(tuple(problems), tuple(notes), None, 0, False)
    problems.extend(_check_links(chain))
    problems.extend(_check_rows(chain, files))
    for link in chain.links:
        if link.get("recovered"):
            notes.append(
                f"link #{link.get('seq')} ({link.get('path')}) was recovered: its manifest row "
                "was found without a link (a store from before the chain, or an interrupted ingest)"
            )
    if expect_head:
        problems.extend(_check_expected(chain, expect_head))
    return ChainCheck(tuple(problems), tuple(notes), chain.head, len(chain.links), True)


def _check_links(chain: Chain) -> list[str]:
    out = [f"chain line {n} is not a JSON object" for n in chain.bad_lines]
    if chain.torn:
        out.append("the chain ends in a partial line (an interrupted ingest; ingest again)")
    prev_hash = GENESIS
    totals = {"inputs": 0, **dict.fromkeys(COUNTS, 0)}
    seen: dict[str, int] = {}
    for i, link in enumerate(chain.links, 1):
        seq = link.get("seq")
        where = f"chain link #{seq} ({link.get('path')})"
        if seq != i:
            out.append(f"{where}: expected sequence number {i} (a link was removed or inserted)")
        if link.get("hash") != link_hash(link):
            out.append(f"{where}: edited (its hash does not match its content)")
        if link.get("prev") != prev_hash:
            out.append(f"{where}: does not follow link #{i - 1} (the chain was cut or reordered)")
        prev_hash = str(link.get("hash"))
        try:
            rec = link["records"]
            totals = {
                "inputs": totals["inputs"] + 1,
                **{k: totals[k] + int(rec[k]) for k in COUNTS},
            }
            if link["totals"] != totals:
                out.append(f"{where}: running totals {link['totals']} should be {totals}")
        except (KeyError, TypeError, ValueError):
            out.append(f"{where}: malformed counts")
        sha = str(link.get("sha256"))
        if sha in seen:
            out.append(f"{where}: input {sha[:16]} already chained at link #{seen[sha]}")
        seen[sha] = i
    return out


def _check_rows(chain: Chain, files: Sequence[Path]) -> list[str]:
    out = []
    present = {f.stem: f for f in files}
    named = set()
    for link in chain.links:
        sha = str(link.get("sha256"))
        named.add(sha)
        where = f"chain link #{link.get('seq')}"
        f = present.get(sha)
        if f is None:
            out.append(
                f"{link.get('path')} (input {sha[:16]}, {where}) is missing from the manifest: "
                "its manifest row was removed"
            )
        elif sha256_file(f) != link.get("manifest_sha256"):
            out.append(f"{link.get('path')} (input {sha[:16]}): manifest row changed since {where}")
    for sha, f in sorted(present.items()):
        if sha not in named:
            out.append(
                f"manifest row {f.name} is in no chain link (added outside ingest, or an "
                "interrupted ingest: run ingest to recover it)"
            )
    return out


def _check_expected(chain: Chain, expect: str) -> list[str]:
    want = expect.strip().lower()
    if len(want) < 12:
        return [f"--expect-head {expect!r}: give at least 12 hex digits of the head"]
    if any(str(link.get("hash", "")).startswith(want) for link in chain.links):
        return []
    return [
        f"expected chain head {expect} is not in the chain: the chain was cut back or rewritten "
        f"since that head was recorded (head now {chain.head or 'none'})"
    ]
