"""Shared block reader for the LANL cyber1 CSV files (auth, flows, proc): fast and still exact.

The LANL files hold about a billion lines, so a Python loop per line is far too slow. Blocks are
parsed by ``pyarrow.csv`` (every column as text) and mapped with vectorised ``pyarrow.compute``
in the format modules (``lanl_auth``, ``lanl_flows``, ``lanl_proc``). The house rules still hold:

* a line with the wrong number of fields reaches ``invalid_row_handler`` with its physical line
  number and becomes a rejection; good rows get their line numbers back from those gaps;
* ``_CleanStream`` sits between the input and pyarrow and hands over whole lines only: it rejects
  invalid UTF-8 and over-long lines itself (each replaced by a blank line, so line numbers stay
  right), turns blank lines into " " (which pyarrow reports as a one-field row, which is skipped),
  and on a truncated or corrupt compressed stream records one rejection and ends cleanly,
  dropping the partial last line.

Times are seconds from an epoch: option ``lanl.epoch`` (ISO-8601), default DEFAULT_EPOCH.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from ashiato.errors import IngestError
from ashiato.events import ACCESS_EVENT
from ashiato.ingest.base import (
    MAX_BATCH_ROWS,
    MAX_LINE_BYTES,
    ParseContext,
    ParsedBatch,
    Rejection,
    excerpt,
    to_epoch_us,
)

DEFAULT_EPOCH = "2015-01-01T00:00:00Z"
"""Time 0 of the LANL files when ``lanl.epoch`` is not given: roughly when the 58 days began.

LANL publishes relative seconds only; 1970 would fail the plausibility check (before 1990)."""

Mask: TypeAlias = "np.ndarray[Any, Any]"  # a numpy boolean row mask

BLOCK_SIZE = 8 << 20
_READ = 1 << 20


def epoch_us(ctx: ParseContext) -> int:
    """Epoch microseconds of time 0: ``lanl.epoch`` or DEFAULT_EPOCH; IngestError if unreadable."""
    text = ctx.options.get("lanl.epoch", DEFAULT_EPOCH)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(f"option lanl.epoch: not an ISO-8601 time: {text!r}") from None
    return to_epoch_us(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


class _CleanStream(io.RawIOBase):
    """Whole, valid UTF-8 lines from ``stream``; stream problems become rejections."""

    def __init__(self, stream: BinaryIO, max_line: int = MAX_LINE_BYTES) -> None:
        super().__init__()
        self._stream = stream
        self._max = max_line
        self._tail = b""
        self._out = b""
        self._eof = False
        self._skipping = False
        self.lineno = 0
        self.problems: list[Rejection] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = 1 << 62 if size is None or size < 0 else size
        parts = [self._out]
        have = len(self._out)
        self._out = b""
        while have < want and not self._eof:
            self._fill()
            parts.append(self._out)
            have += len(self._out)
            self._out = b""
        data = b"".join(parts)
        if len(data) > want:
            data, self._out = data[:want], data[want:]
        return data

    def _raw(self) -> bytes | None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            return bytes(read(_READ))
        except EOFError:
            reason = f"truncated compressed stream after line {self.lineno}"
        except (OSError, zlib.error, ValueError) as exc:
            reason = f"corrupt input stream after line {self.lineno}: {exc}"
        self.problems.append(Rejection(self.lineno + 1, reason, ""))
        self._tail = b""  # the partial last line is dropped
        return None

    def _fill(self) -> None:
        block = self._raw()
        if not block:
            self._eof = True
            if self._skipping:
                self.lineno += 1
            elif self._tail and block is not None:
                self._out = self._clean(self._tail + b"\n")
            self._tail = b""
            return
        if self._tail and len(self._tail) + block.find(b"\n") > self._max:
            self._too_long()
        if self._skipping:
            idx = block.find(b"\n")
            if idx < 0:
                return
            self._skipping = False
            self.lineno += 1
            self._out = b" \n"
            block = block[idx + 1 :]
        data = self._tail + block if self._tail else block
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail = data
        else:
            self._out += self._clean(data[: cut + 1])
            self._tail = data[cut + 1 :]
        if len(self._tail) > self._max:
            self._too_long()

    def _too_long(self) -> None:
        """Reject the line in ``_tail`` (the next line) and skip to its end."""
        reason = f"line longer than {self._max} bytes"
        self.problems.append(Rejection(self.lineno + 1, reason, excerpt(self._tail)))
        self._tail = b""
        self._skipping = True

    def _clean(self, piece: bytes) -> bytes:
        """``piece`` (whole lines) with blank lines made " " and bad lines rejected and blanked."""
        start = self.lineno
        self.lineno += piece.count(b"\n")
        if (
            piece.isascii()
            and b"\n\n" not in piece
            and b"\n\r\n" not in piece
            and piece[:1] != b"\n"
            and piece[:2] != b"\r\n"
            and (b"\r" not in piece or piece.count(b"\r") == piece.count(b"\r\n"))
        ):
            return piece
        lines = piece.split(b"\n")
        lines.pop()  # piece ends with a newline
        for i, line in enumerate(lines):
            if not line or line.isspace():
                lines[i] = b" "
            elif b"\r" in line[:-1]:  # pyarrow would end the row there
                reason = "carriage return inside a line"
                self.problems.append(Rejection(start + i + 1, reason, excerpt(line)))
                lines[i] = b" "
            elif not line.isascii():
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    reason = f"invalid UTF-8 at byte {exc.start}"
                    self.problems.append(Rejection(start + i + 1, reason, excerpt(line)))
                    lines[i] = b" "
        return b"\n".join(lines) + b"\n"


def blocks(
    stream: BinaryIO, names: Sequence[str], block_size: int = BLOCK_SIZE
) -> Iterator[tuple[pa.RecordBatch, np.ndarray[Any, Any], list[Rejection]]]:
    """Yield (text columns, 1-based line numbers, rejections so far) per parsed block.

    Every line of ``stream`` is either a row of a yielded batch or in a yielded rejection list,
    except blank lines, which are not records.
    """
    clean = _CleanStream(stream)
    pending: list[Rejection] = []
    bad: list[int] = []  # physical numbers of lines pyarrow did not return as rows
    expected = len(names)

    def on_invalid(row: Any) -> str:
        number = int(row.number) if row.number is not None else clean.lineno
        bad.append(number)
        if row.text.strip(" \t\r\n\x0b\x0c"):  # blank as LineReader sees it
            reason = f"expected {expected} fields, got {row.actual_columns}"
            pending.append(Rejection(number, reason, row.text[:200]))
        return "skip"

    try:
        reader = pcsv.open_csv(
            clean,
            read_options=pcsv.ReadOptions(
                column_names=list(names), use_threads=False, block_size=block_size
            ),
            parse_options=pcsv.ParseOptions(
                quote_char=False, ignore_empty_lines=False, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except (pa.ArrowException, OSError) as exc:
        if "Empty CSV" not in str(exc):
            pending.append(Rejection(clean.lineno + 1, f"unreadable CSV block: {exc}", ""))
        reader = None
    goods = 0  # good rows so far
    base = 0  # bad lines known to lie before the next good row
    while reader is not None:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowException, OSError) as exc:
            pending.append(Rejection(clean.lineno + 1, f"unreadable CSV block: {exc}", ""))
            break
        n = batch.num_rows
        g = np.arange(goods, goods + n, dtype=np.int64)
        b = np.asarray(bad, dtype=np.int64)
        key = b - 1 - np.arange(base, base + len(b), dtype=np.int64)
        lines = g + 1 + base + np.searchsorted(key, g, side="right")
        goods += n
        if n:
            keep = b > lines[-1]
            base += int((~keep).sum())
            bad[:] = b[keep].tolist()
        out, pending[:] = pending + clean.problems, []
        clean.problems = []
        yield batch, lines, out
    tail = pending + clean.problems
    if tail:
        yield (
            pa.RecordBatch.from_pylist([], schema=pa.schema([(x, pa.string()) for x in names])),
            np.zeros(0, np.int64),
            tail,
        )


# -- vectorised helpers shared by the three formats ---------------------------------------------


def nullify(arr: pa.Array, nulls: Sequence[str] = ("?", "")) -> pa.Array:
    """``arr`` with the placeholder values made null."""
    return pc.if_else(pc.is_in(arr, pa.array(list(nulls))), pa.scalar(None, pa.string()), arr)


def digits(arr: pa.Array, max_len: int = 12) -> pa.Array:
    """Boolean mask: the value is 1..max_len ASCII digits."""
    return pc.and_(pc.ascii_is_decimal(arr), pc.less_equal(pc.binary_length(arr), max_len))


def to_int(arr: pa.Array, ok: pa.Array) -> pa.Array:
    """int64 of the values where ``ok``; 0 elsewhere (callers reject those rows)."""
    return pc.cast(pc.if_else(ok, arr, "0"), pa.int64())


def split_account(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``user@domain`` text → (user lower case, domain upper case); ``?`` and empty → null."""
    d = pc.dictionary_encode(arr)
    vals = d.dictionary
    parts = pc.split_pattern(vals, "@", max_splits=1)
    user = nullify(pc.utf8_lower(pc.list_element(parts, 0)))
    has_dom = pc.greater(pc.list_value_length(parts), 1)
    dom_raw = pc.list_element(pc.if_else(has_dom, parts, pa.scalar(["", ""], parts.type)), 1)
    dom = nullify(pc.utf8_upper(dom_raw))
    return pc.take(user, d.indices), pc.take(dom, d.indices)


def host(arr: pa.Array) -> pa.Array:
    """Computer names lower case; ``?`` and empty → null."""
    d = pc.dictionary_encode(arr)
    return pc.take(nullify(pc.utf8_lower(d.dictionary)), d.indices)


def _keys(names: Sequence[str], cols: np.ndarray[Any, Any], full: int) -> pa.Array:
    """The map keys ``names[cols]``; when every row has every key (``full`` rows), from buffers."""
    if full < 0:
        return pc.take(pa.array(list(names), pa.string()), cols)
    enc = [x.encode() for x in names]
    lens = np.array([len(x) for x in enc], dtype=np.int64)
    pattern = np.concatenate([[0], np.cumsum(lens)[:-1]])
    total = int(lens.sum())
    offsets = np.empty(full * len(enc) + 1, dtype=np.int32)
    offsets[:-1] = (np.arange(full, dtype=np.int64)[:, None] * total + pattern[None, :]).ravel()
    offsets[-1] = full * total
    data = pa.py_buffer(b"".join(enc) * full)
    return pa.Array.from_buffers(pa.string(), len(cols), [None, pa.py_buffer(offsets), data])


def raw_map(n: int, entries: Sequence[tuple[str, pa.Array, Mask | None]]) -> pa.Array:
    """A ``raw`` MapArray of ``n`` rows from (key, text values, present mask or None=all), k>=1."""
    k = len(entries)
    present = np.ones((n, k), dtype=bool)
    for j, (_, _, mask) in enumerate(entries):
        if mask is not None:
            present[:, j] = mask
    full = bool(present.all())
    if full:
        rows, cols = np.repeat(np.arange(n), k), np.tile(np.arange(k, dtype=np.int64), n)
    else:
        rows, cols = np.nonzero(present)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    keys = _keys([e[0] for e in entries], cols, n if full else -1)
    values = pa.concat_arrays([pc.cast(e[1], pa.string()) for e in entries])
    vals = pc.take(values, cols * n + rows)
    return pa.MapArray.from_arrays(
        pa.array(offsets), keys, vals, type=ACCESS_EVENT.field("raw").type
    )


def assemble(
    cols: dict[str, Any], lines: np.ndarray[Any, Any], source: str, ctx: ParseContext
) -> pa.RecordBatch:
    """An ACCESS_EVENT batch from the mapped columns (missing ones null) and the line numbers."""
    n = len(lines)
    offsets = pa.array(lines, pa.int64())
    cols["source_offset"] = offsets
    cols["event_id"] = pc.binary_join_element_wise(
        ctx.sha16 + "-", pc.cast(offsets, pa.string()), ""
    )
    cols["source"] = pa.repeat(source, n)
    cols["source_file"] = pa.repeat(ctx.sha256, n)
    arrays = []
    for f in ACCESS_EVENT:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, str):
            arrays.append(pa.repeat(pa.scalar(v, f.type), n))
        else:
            arrays.append(v if v.type == f.type else pc.cast(v, f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=ACCESS_EVENT)


def finish(
    batch: pa.RecordBatch,
    lines: np.ndarray[Any, Any],
    reasons: Sequence[tuple[pa.Array, str]],
    rejections: list[Rejection],
) -> tuple[pa.Array | None, np.ndarray[Any, Any], list[Rejection]]:
    """Rows that any ``(mask, reason)`` marks bad become rejections (first reason wins).

    Returns the keep mask (None when every row is good), the good rows' line numbers and the
    rejections (``rejections`` plus the new ones, in line order).
    """
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)
    why = np.full(n, -1, dtype=np.int64)
    for i, (mask, _) in enumerate(reasons):
        m = np.asarray(pc.fill_null(mask, True).to_numpy(zero_copy_only=False), dtype=bool)
        why[m & ~bad] = i
        bad |= m
    if not bad.any():
        return None, lines, rejections
    idx = np.nonzero(bad)[0]
    cols = [pc.fill_null(pc.take(batch.column(i), idx), "") for i in range(batch.num_columns)]
    texts = pc.binary_join_element_wise(*cols, ",").to_pylist()
    out = list(rejections)
    for k, i in enumerate(idx.tolist()):
        out.append(Rejection(int(lines[i]), reasons[why[i]][1], str(texts[k])[:200]))
    out.sort(key=lambda r: r.offset)
    return pa.array(~bad), lines[~bad], out


def emit(batch: pa.RecordBatch, rejections: list[Rejection]) -> Iterator[ParsedBatch]:
    """Cut a mapped block into ParsedBatches of at most MAX_BATCH_ROWS rows (zero-copy slices)."""
    if batch.num_rows == 0:
        if rejections:
            yield ParsedBatch(batch, rejections)
        return
    for start in range(0, batch.num_rows, MAX_BATCH_ROWS):
        yield ParsedBatch(batch.slice(start, MAX_BATCH_ROWS), rejections if start == 0 else [])


def sniff_lines(head: bytes, check: Any, max_lines: int = 20) -> bool:
    """True if the head's complete lines (up to ``max_lines``, at least one) all pass ``check``."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = text.split("\n")
    if len(lines) > 1:  # the last line may be cut by the head's end (or is empty)
        lines.pop()
    seen = 0
    for whole in lines[:max_lines]:
        line = whole.rstrip("\r")
        if not line:
            continue
        if not check(line.split(",")):
            return False
        seen += 1
    return seen > 0
