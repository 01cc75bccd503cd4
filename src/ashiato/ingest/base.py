"""The parser protocol and what every parser shares: context, batches, rejections, line reader.

A parser is a small object (a name, a cheap ``sniff``, a streaming ``parse``); this module holds
what they have in common so that each format module only maps fields. Parsers build rows as
tuples in ``ACCESS_EVENT`` field order and turn them into one Arrow batch at a time
(``build_batch``), which keeps memory bounded and avoids a dict per row.
"""

from __future__ import annotations

import importlib.abc
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, BinaryIO, NamedTuple, Protocol, runtime_checkable

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.events import ACCESS_EVENT, EventKind
from ashiato.ingest.inputs import compression_of

MAX_BATCH_ROWS = 50_000
"""Rows per ParsedBatch at most."""

MAX_LINE_BYTES = 1 << 20
"""A line longer than this (about; up to twice) is rejected without being held in memory."""

EXCERPT_CHARS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
MIN_TS_US = (datetime(1990, 1, 1, tzinfo=UTC) - _EPOCH) // _US

FILLED = frozenset({"event_id", "source", "source_file", "raw", "record_key", "subject_user"})
"""Fields a parser does not put in its row tuples: BatchBuffer fills them."""

_SUBJECT_OF = EventKind.EXPLICIT_CREDENTIALS.value
"""The kind whose ``subject_user`` BatchBuffer takes from the raw SubjectUserName."""

ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in ACCESS_EVENT if f.name not in FILLED)
"""Order of the values in a row tuple: the ACCESS_EVENT fields, except FILLED ones."""

Row = tuple[Any, ...]
Raw = Mapping[str, Any] | None


class Rejection(NamedTuple):
    """One record that could not be stored: where it was, why, and what it looked like."""

    offset: int
    reason: str
    excerpt: str


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs to know about the file it reads, and the clock it must use."""

    sha256: str
    path: str
    now: datetime
    future_slack: timedelta = timedelta(days=2)
    tz: str | None = None
    """IANA time zone for sources whose timestamps carry none (syslog RFC 3164, CSV exports)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Parser options from the command line (``--option key=value``), e.g. ``lanl.epoch``."""

    @cached_property
    def sha16(self) -> str:
        return self.sha256[:16]

    @property
    def min_ts_us(self) -> int:
        """Earliest plausible event time (1990-01-01), epoch microseconds."""
        return MIN_TS_US

    @cached_property
    def max_ts_us(self) -> int:
        """Latest plausible event time (now + 2 days), epoch microseconds."""
        return to_epoch_us(self.now + self.future_slack)


@dataclass
class ParsedBatch:
    """At most MAX_BATCH_ROWS events in ACCESS_EVENT schema plus the rejections met reading them."""

    batch: pa.RecordBatch
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return int(self.batch.num_rows) + len(self.rejections)


@runtime_checkable
class Parser(Protocol):
    """One source format: auto-detected by ``sniff``, streamed by ``parse``."""

    name: str
    description: str

    def sniff(self, head: bytes, name: str) -> bool:
        """True if ``head`` (the first bytes, decompressed) looks like this format."""
        ...

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        """Yield batches; every record read becomes a stored row or a rejection, never an error."""
        ...


class BadRecord(Exception):  # noqa: N818 - a record-level signal, caught inside parsers
    """Raised inside a parser's row mapping; becomes a Rejection with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not needed here")


def skip_pandas_probe() -> None:
    """Spare this process the import of pandas that pyarrow makes for nothing (~0.25 s).

    pyarrow's first conversion of a Python list imports pandas, to ask whether the list is a
    pandas object; an ingest converts nothing else, and every parser and store write converts
    lists. Here pyarrow asks once while pandas cannot be imported, and remembers the answer;
    pandas can be imported again right after, and pyarrow's own pandas functions
    (``to_pandas``, ``from_pandas``) still import it when called. What no longer works is
    handing pandas objects to ``pa.array`` before either has run: for a process that runs an
    ingest and ends (the CLI command, and the workers it forks), never the library call.
    """
    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([None])
    finally:
        sys.meta_path.remove(finder)


def to_epoch_us(dt: datetime) -> int:
    """Epoch microseconds of an aware datetime (naive means UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _US


def excerpt(line: bytes) -> str:
    """The first EXCERPT_CHARS characters of a raw record, bad bytes replaced."""
    return line[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]


def _to_text(v: Any) -> str | None:
    if v is None or v.__class__ is str:
        return v
    if v.__class__ is bool:
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    return str(v)


class BatchBuffer:
    """Collects rows for one batch without keeping a Python container per row alive.

    A row tuple is flattened into one long list (columns are recovered by slicing) and its raw map
    into flat key and value lists; this keeps the garbage collector from walking millions of live
    tuples and dicts, which otherwise costs more than the parsing.
    """

    def __init__(self, source: str, ctx: ParseContext) -> None:
        self._source = source
        self._sha256 = ctx.sha256
        self._prefix = ctx.sha16 + "-"
        self._reset()

    def _reset(self) -> None:
        self._flat: list[Any] = []
        self._keys: list[str] = []
        self._vals: list[Any] = []
        self._offsets: list[int] = [0]
        self._record_keys: list[str | None] = []
        self.rejections: list[Rejection] = []

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def add(self, row: Row, raw: Raw, record_key: str | None = None) -> None:
        """Buffer one row (ROW_FIELDS order), its raw source fields (keys must be text) and the
        record's natural identity (``record_key``; None where the source has none)."""
        self._flat.extend(row)
        if raw:
            self._keys.extend(raw)
            self._vals.extend(raw.values())
        self._offsets.append(len(self._keys))
        self._record_keys.append(record_key)

    def reject(self, offset: int, reason: str, line: bytes) -> None:
        self.rejections.append(Rejection(offset, reason, excerpt(line)))

    def take(self, extra: list[Rejection]) -> ParsedBatch:
        """The buffered rows and rejections (plus ``extra``) as one ParsedBatch; then empty."""
        batch = self._build()
        out = ParsedBatch(batch, self.rejections + extra)
        self._reset()
        return out

    def _subjects(self, kinds: pa.Array) -> pa.Array:
        """Each 4648's SubjectUserName (normalised like ``user``), null elsewhere: read from the
        buffered raw keys of those rows only (a few per thousand), not from every row's map."""
        from ashiato.ingest.normalise import user  # it imports this module

        subjects: list[str | None] = [None] * len(kinds)
        keys, vals, offsets = self._keys, self._vals, self._offsets
        for i in pc.indices_nonzero(pc.equal(kinds, _SUBJECT_OF)).to_pylist():
            for k in range(offsets[i], offsets[i + 1]):
                if keys[k] == "SubjectUserName":
                    subjects[i] = user(vals[k])
                    break
        return pa.array(subjects, pa.string())

    def _build(self) -> pa.RecordBatch:
        n = len(self)
        width = len(ROW_FIELDS)
        flat = self._flat
        cols: dict[str, Any] = {
            name: pa.array(flat[i::width], type=ACCESS_EVENT.field(name).type)
            for i, name in enumerate(ROW_FIELDS)
        }
        offsets = cols["source_offset"]
        cols["event_id"] = pc.binary_join_element_wise(self._prefix, offsets.cast(pa.string()), "")
        cols["source"] = pa.array([self._source] * n, pa.string())
        cols["source_file"] = pa.array([self._sha256] * n, pa.string())
        cols["record_key"] = pa.array(self._record_keys, pa.string())
        cols["subject_user"] = self._subjects(cols["kind"])
        try:
            val_arr = pa.array(self._vals, pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # some values are not text: convert them
            val_arr = pa.array([_to_text(v) for v in self._vals], pa.string())
        cols["raw"] = pa.MapArray.from_arrays(
            pa.array(self._offsets, pa.int32()),
            pa.array(self._keys, pa.string()),
            val_arr,
            type=ACCESS_EVENT.field("raw").type,
        )
        return pa.RecordBatch.from_arrays(
            [cols[f] for f in ACCESS_EVENT.names], schema=ACCESS_EVENT
        )


class LineReader:
    """Iterate ``(line_number, line)`` over the non-blank lines of a binary stream, memory bounded.

    Line numbers are 1-based and physical (blank lines advance them but are not yielded: a blank
    line is not a record). Stream-level problems (a truncated or corrupt compressed stream, a line
    longer than ``max_line``) are not raised: they are collected in ``problems`` as rejections,
    each one record.
    """

    def __init__(self, stream: BinaryIO, max_line: int = MAX_LINE_BYTES, chunk: int = 1 << 20):
        self._stream = stream
        self._max = max_line
        self._chunk = chunk
        self.problems: list[Rejection] = []
        self.lineno = 0
        self._broken = False

    def take_problems(self) -> list[Rejection]:
        out, self.problems = self.problems, []
        return out

    def _read(self) -> bytes | None:
        """Next block, or None at the end (after recording a stream problem if there was one)."""
        read = getattr(self._stream, "read1", self._stream.read)
        kind = compression_of(self._stream)
        try:
            return read(self._chunk)
        except EOFError:
            reason = f"truncated {kind} stream after line {self.lineno}"
        except (zlib.error, OSError, zipfile.BadZipFile) as exc:
            reason = f"corrupt {kind} stream after line {self.lineno}: {exc}"
        self.problems.append(Rejection(self.lineno + 1, reason, ""))
        self._broken = True
        return None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        buf = b""
        skipping = False
        skip_excerpt = ""
        while True:
            block = self._read()
            if not block:
                if skipping:
                    self.lineno += 1
                    self.problems.append(Rejection(self.lineno, self._too_long(), skip_excerpt))
                elif buf and not self._broken:  # a partial line cut by truncation is dropped
                    self.lineno += 1
                    if not buf.isspace():
                        yield self.lineno, buf
                return
            if skipping:
                idx = block.find(b"\n")
                if idx < 0:
                    continue
                self.lineno += 1
                self.problems.append(Rejection(self.lineno, self._too_long(), skip_excerpt))
                skipping = False
                block = block[idx + 1 :]
            lines = (buf + block).split(b"\n") if buf else block.split(b"\n")
            buf = lines.pop()
            for line in lines:
                self.lineno += 1
                if line and not line.isspace():
                    yield self.lineno, line
            if len(buf) > self._max:
                skipping = True
                skip_excerpt = excerpt(buf)
                buf = b""

    def _too_long(self) -> str:
        return f"line longer than {self._max} bytes"


def bad_json(line: bytes) -> str:
    """Why a line is not JSON, in words: bad UTF-8 (and where) or bad syntax."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return "invalid JSON"


def parse_json_lines(
    stream: BinaryIO,
    ctx: ParseContext,
    source: str,
    map_one: Callable[[Any, int], tuple[Row, Raw]],
    key_of: Callable[[Row, Raw], str | None] | None = None,
) -> Iterator[ParsedBatch]:
    """The loop every JSON-lines parser shares: decode, map, count, batch.

    ``map_one(obj, lineno)`` returns a row tuple and raw fields, or raises BadRecord (its reason
    becomes the rejection's); a TypeError/ValueError/AttributeError/OverflowError from odd values
    is a "malformed record" rejection, never a crash. ``key_of(row, raw)`` gives the record's
    natural identity (``record_key``); without it rows have none.
    """
    reader = LineReader(stream)
    buf = BatchBuffer(source, ctx)
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    for lineno, line in reader:
        try:
            obj = loads(line)
        except decode_error:
            buf.reject(lineno, bad_json(line), line)
            continue
        try:
            row, raw = map_one(obj, lineno)
        except BadRecord as exc:
            buf.reject(lineno, exc.reason, line)
            continue
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            buf.reject(lineno, f"malformed record ({type(exc).__name__})", line)
            continue
        buf.add(row, raw, None if key_of is None else key_of(row, raw))
        if len(buf) >= MAX_BATCH_ROWS:
            yield buf.take(reader.take_problems())
    extra = reader.take_problems()
    if len(buf) or buf.rejections or extra:
        yield buf.take(extra)
