"""Count the records an EVTX file loses in chunks that cannot be read, from the chunk headers.

An EVTX file is a 4 KiB header and 64 KiB chunks; each chunk header names the first and last
record identifier it holds (offsets 24 and 32, uint64 little-endian: what each record carries as
``EventRecordID``; the per-chunk record *numbers* at 8 and 16 restart in exported files) and is
protected by a CRC32 (offset 124, over bytes 0-120 and 128-512). When a chunk is damaged the
``evtx`` library reports one error for the whole chunk, or none at all (a zeroed chunk is skipped
silently), so one rejection per error undercounts: a chunk holds about a hundred records.

This module reads every chunk header with ``struct`` and, once a file is parsed, names each
record a chunk should hold that was neither stored nor rejected. The identifiers come from the
chunk's own header when it is intact; else from its neighbours (the previous chunk's last
identifier + 1 to the next one's first - 1, or the file header's next record identifier for
chunks cut off the end), or from the damaged header itself when its numbers fit exactly between
those. When nothing gives a plausible range the damage stays one rejection that says so.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from ashiato.ingest.base import Rejection

HEADER_BLOCK = 4096
CHUNK = 65536
CHUNK_HEADER = 512
CHUNK_MAGIC = b"ElfChnk\x00"
MAX_RECORDS_PER_CHUNK = (CHUNK - CHUNK_HEADER) // 28
"""A record takes at least 28 bytes (24-byte header, a 4-byte size copy): bounds a range."""
_CHUNK_NO = re.compile(r"chunk number (\d+)")
_CHUNK_IDS = re.compile(r"record IDs (\d+)\.\.(\d+)")


@dataclass(frozen=True)
class ChunkInfo:
    """One chunk slot: where it is, how much of it the file holds, what its header says."""

    index: int
    offset: int
    intact: bool
    """Magic and header CRC good, a plausible identifier range: ``first``..``last`` hold."""
    first: int = 0
    last: int = -1
    state: str = "ok"
    """ok, damaged (header unreadable), cut (the file ends inside it), absent (before it)."""


@dataclass(frozen=True)
class FileLayout:
    """The chunk slots of an EVTX file, its size and its header's next record identifier."""

    chunks: tuple[ChunkInfo, ...]
    next_record: int | None
    """None when the file header's CRC fails: then it and the chunk count are not trusted."""
    size: int


def _chunk(index: int, offset: int, head: bytes, size: int) -> ChunkInfo:
    if len(head) < CHUNK_HEADER:
        return ChunkInfo(index, offset, False, state="cut" if head else "absent")
    first, last = struct.unpack_from("<QQ", head, 24)
    crc = struct.unpack_from("<I", head, 124)[0]
    good = head.startswith(CHUNK_MAGIC) and crc == zlib.crc32(
        head[128:CHUNK_HEADER], zlib.crc32(head[:120])
    )
    intact = good and first <= last and last - first < MAX_RECORDS_PER_CHUNK
    state = "cut" if offset + CHUNK > size else ("ok" if intact else "damaged")
    return ChunkInfo(index, offset, intact, first, last, state)


def read_layout(fh: IO[bytes], size: int) -> FileLayout | None:
    """The chunk slots of the EVTX file open as ``fh`` (position restored); None without header.

    Slots past the header's chunk count count only when they hold something (a log not closed
    cleanly may lag in updating the count); all-zero ones there are preallocated space, not
    damage. A file header whose CRC fails gives no chunk count: the slots up to the last one
    holding anything count then (a chunk whose magic is damaged is still a lost chunk).
    """
    pos = fh.tell()
    try:
        fh.seek(0)
        head = fh.read(HEADER_BLOCK)
        if len(head) < 128 or not head.startswith(b"ElfFile\x00"):
            return None
        header_ok = struct.unpack_from("<I", head, 124)[0] == zlib.crc32(head[:120])
        next_record = struct.unpack_from("<Q", head, 24)[0] if header_ok else None
        declared = struct.unpack_from("<H", head, 42)[0] if header_ok else 0
        chunks: list[ChunkInfo] = []
        in_file = max(0, size - HEADER_BLOCK + CHUNK - CHUNK_HEADER) // CHUNK
        for i in range(max(declared, in_file)):
            offset = HEADER_BLOCK + i * CHUNK
            fh.seek(offset)
            raw = fh.read(CHUNK_HEADER) if offset < size else b""
            info = _chunk(i, offset, raw, size)
            if i < declared or info.intact:
                chunks.append(info)
            elif raw.startswith(CHUNK_MAGIC) or raw.strip(b"\x00"):
                # A slot that holds anything but the zeros of preallocated space held a chunk:
                # damaged (its magic too, maybe), its records are lost, not absent.
                if not header_ok:
                    chunks.extend(_damaged_gap(chunks, i, size))
                chunks.append(info)
        return FileLayout(tuple(chunks), next_record, size)
    finally:
        fh.seek(pos)


def _damaged_gap(chunks: list[ChunkInfo], upto: int, size: int) -> list[ChunkInfo]:
    """The slots between the last one listed and ``upto``: damaged (the file header is bad)."""
    start = chunks[-1].index + 1 if chunks else 0
    return [
        ChunkInfo(i, HEADER_BLOCK + i * CHUNK, False, state="damaged") for i in range(start, upto)
    ]


def _runs(chunks: Sequence[ChunkInfo]) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch of chunks whose headers cannot be trusted (end exclusive)."""
    i = 0
    while i < len(chunks):
        if chunks[i].intact:
            i += 1
            continue
        j = i
        while j < len(chunks) and not chunks[j].intact:
            j += 1
        yield i, j
        i = j


def _why(info: ChunkInfo, size: int, errors: dict[int, str]) -> str:
    if info.state == "absent":
        return f"file truncated: the file ends at byte {size}, before the chunk"
    if info.state == "cut":
        return f"file truncated: the file ends at byte {size}, inside the chunk"
    if info.index in errors:
        return errors[info.index]
    return "damaged chunk header" if not info.intact else "record area unreadable"


def _name(run: Sequence[ChunkInfo]) -> str:
    a, b = run[0], run[-1]
    which = f"chunk {a.index}" if a is b else f"chunks {a.index}-{b.index}"
    return f"unreadable EVTX {which} at byte {a.offset:#x}"


def _consistent(run: Sequence[ChunkInfo], lo: int | None, hi: int) -> int | None:
    """The run's first identifier if its (damaged) headers chain exactly from ``lo`` to ``hi``."""
    expect = lo if lo is not None else run[0].first
    for c in run:
        if c.state in ("cut", "absent") or c.first != expect or c.last < c.first:
            return None
        if c.last - c.first >= MAX_RECORDS_PER_CHUNK:
            return None
        expect = c.last + 1
    return run[0].first if expect == hi + 1 else None


def lost_records(
    layout: FileLayout, seen: set[int], chunk_errors: Sequence[str]
) -> tuple[list[Rejection], list[str]]:
    """One rejection per record the chunks should hold that no row or rejection accounts for.

    ``seen`` holds the identifiers of the records read (stored or rejected one by one);
    ``chunk_errors`` the library's chunk-level errors. Returns the rejections and the errors that
    name no chunk (the caller rejects those as they are, one each).
    """
    chunks = layout.chunks
    if not chunks and layout.next_record is None and not seen and not chunk_errors:
        # Nothing read, no chunk, and a header whose checksum fails: a damaged file, not an
        # empty log (whose header checks out), with nothing to tell how much it lost.
        unknown = (
            f"EVTX file header damaged (checksum mismatch) and no chunk follows it (the file "
            f"ends at byte {layout.size}): how many records it held is unknown"
        )
        return [Rejection(0, unknown, "")], []
    errors: dict[int, str] = {}
    left = []
    for msg in chunk_errors:
        idx = _error_chunk(msg, chunks)
        if idx is None:
            left.append(msg)
        else:
            errors[idx] = msg
    out: list[Rejection] = []

    def lose(lo: int, hi: int, run: Sequence[ChunkInfo]) -> None:
        why = "; ".join(dict.fromkeys(_why(c, layout.size, errors) for c in run))
        out.extend(
            Rejection(n, f"record {n} lost: {_name(run)}: {why}", "")
            for n in range(lo, hi + 1)
            if n not in seen
        )

    for info in chunks:  # intact headers whose records did not all come out
        if info.intact:
            lose(info.first, info.last, [info])
    for start, end in _runs(chunks):
        run = chunks[start:end]
        lo = chunks[start - 1].last + 1 if start > 0 else None
        hi = chunks[end].first - 1 if end < len(chunks) else None
        if hi is None and layout.next_record is not None:
            hi = layout.next_record - 1
        first = None if hi is None else _consistent(run, lo, hi)
        if first is not None:
            lo = first
        if (
            lo is not None
            and hi is not None
            and lo <= hi
            and hi - lo < len(run) * MAX_RECORDS_PER_CHUNK
        ):
            lose(lo, hi, run)
        elif any(c.state != "absent" for c in run) or errors.keys() & {c.index for c in run}:
            why = "; ".join(dict.fromkeys(_why(c, layout.size, errors) for c in run))
            at = lo if lo is not None else 0
            unknown = f"{_name(run)}: {why}; how many records it held is unknown"
            out.append(Rejection(at, unknown, ""))
        else:  # only absent chunks, and no range: the cut is one rejection
            why = _why(run[0], layout.size, errors)
            unknown = f"records after {lo - 1 if lo else 'the header'} are missing"
            out.append(Rejection(lo or 0, f"{why}; {unknown} ({_name(run)})", ""))
    return out, left


def _error_chunk(msg: str, chunks: Sequence[ChunkInfo]) -> int | None:
    """The chunk a library error names (by number, or by the identifiers it holds)."""
    if m := _CHUNK_NO.search(msg):
        return int(m.group(1))
    if m := _CHUNK_IDS.search(msg):
        first = int(m.group(1))
        for c in chunks:
            if c.intact and c.first == first:
                return c.index
    return None
