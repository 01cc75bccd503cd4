"""The shared Zeek log reader: TSV with its ``#`` header, or JSON lines, for every Zeek log module.

Zeek writes one log per protocol (conn, kerberos, ntlm, rdp, smb_*, dce_rpc, ...) in one of two
shapes, so the reading is shared and each log module is only a field mapping (a ``ZeekLog``):

* TSV: a header of ``#separator``, ``#set_separator``, ``#empty_field``, ``#unset_field``,
  ``#path``, ``#fields``, ``#types`` lines (``#open``/``#close`` too), honoured wherever it
  appears, so concatenated logs with a repeated header mid-file read correctly and columns are
  found by name in any order. Values are unescaped as Zeek escapes them (``\\\\`` and
  ``\\xNN``); the unset placeholder means absent and the empty placeholder the empty string.
* JSON lines, as ``LogAscii::use_json`` writes them (dotted keys; a nested ``id`` object is
  flattened; ``id_orig_h``-style keys and an ``@stream`` path, as ROCK/Kafka shippers write, are
  understood), with ``ts`` as epoch seconds or ISO-8601.

A file whose ``#fields`` lacks a column the mapping needs has each of its records rejected with a
reason naming the missing column, as has a record under a ``#path`` of another log. ``raw`` keeps
the fields the mapping did not use, as text (booleans ``T``/``F``, sets joined with ``,``), unset
ones left out. ``source_offset`` is the physical line number, ``record_id`` the Zeek ``uid``, and
``record_key`` (the record's identity for de-duplication) ``zeek|<log type>|<uid>|<ts in µs>``: the
log type because conn and kerberos lines share uids, the time because one connection's uid
recurs on many lines of logs such as dce_rpc or dns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

import orjson

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import (
    MAX_BATCH_ROWS,
    BadRecord,
    BatchBuffer,
    LineReader,
    ParseContext,
    ParsedBatch,
    Raw,
    Row,
)

ID_FIELDS = ("uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")
"""The first five values every mapping receives, in this order (``event`` reads them)."""

RowFn = Callable[[int, list[Any], int], Row]
"""``(ts_us, values, line number) -> row``; values follow ``ZeekLog.fields`` (None if unset)."""


@dataclass(frozen=True)
class ZeekLog:
    """One Zeek log type: how to recognise it and how its fields map to an access event."""

    path: str | None
    """The ``#path`` (and JSON ``_path``) Zeek gives it; None for the catch-all parser."""
    fields: tuple[str, ...]
    """Fields handed to ``row``: ID_FIELDS first, then the log's own."""
    row: RowFn
    required: tuple[str, ...] = ("uid", "id.orig_h", "id.resp_h")
    """Columns a TSV ``#fields`` header must have (``ts`` is always required)."""
    needed: tuple[str, ...] = ("uid",)
    """Fields every record must set; an unset one rejects the record."""
    signature: tuple[frozenset[str], ...] = ()
    """Recognise a file without ``#path``: any one of these field sets among its field names."""
    keep_raw: frozenset[str] = frozenset()
    """Mapped fields that are also kept verbatim in ``raw`` (e.g. a UNC path that is rewritten)."""
    raw_path: bool = False
    """Put the log's ``#path`` in ``raw`` under ``_path`` (the catch-all parser needs it)."""
    mapped: frozenset[str] = field(init=False)
    dotted: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapped", frozenset(self.fields) | {"ts"})
        object.__setattr__(self, "dotted", tuple(f for f in self.fields if "." in f))

    def matches(self, head: Head) -> bool:
        """True if a file's head (see ``head_info``) is this log."""
        if head.path is not None:
            return head.path == self.path
        return any(sig <= head.keys for sig in self.signature)


def sig(*names: str) -> frozenset[str]:
    """A signature: field names that together identify one log type."""
    return frozenset(names)


# fmt: off
def event(
    ts: int, kind: str, v: list[Any], lineno: int, *, outcome: str = "unknown",
    status: str | None = None, user: str | None = None, domain: str | None = None,
    logon_type: int | None = None, auth_package: str | None = None, src_host: str | None = None,
    dst_host: str | None = None, protocol: str | None = None, service: str | None = None,
    bytes_out: int | None = None, bytes_in: int | None = None, duration_s: float | None = None,
    share: str | None = None, path: str | None = None,
) -> Row:
    """A row tuple (ROW_FIELDS order) with endpoints and uid taken from ``v[:5]`` (ID_FIELDS)."""
    uid, orig_h, orig_p, resp_h, resp_p = v[0], v[1], v[2], v[3], v[4]
    return (
        ts, kind, None, outcome, status, user, domain, logon_type, auth_package,  # None: event_code
        src_host, nz.ip(orig_h), nz.port(orig_p, "id.orig_p"),
        dst_host, nz.ip(resp_h), nz.port(resp_p, "id.resp_p"),
        protocol, service, bytes_out, bytes_in, duration_s, share, path,
        None, None, lineno, None if uid is None else str(uid),  # process, log_host
    )
# fmt: on


def outcome_tf(v: Any) -> str:
    """Zeek's bool ``T``/``F`` as an outcome; unset is unknown."""
    if v == "T":
        return "success"
    if v == "F":
        return "failure"
    return "unknown"


def is_ip(s: str) -> bool:
    """True for IPv4 dotted-quad or IPv6 text (a host part that names no host)."""
    return ":" in s or (s.count(".") == 3 and s.replace(".", "").isdigit())


_ESC = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def _unesc(m: re.Match[bytes]) -> bytes:
    g = m.group(1)
    return b"\\" if g == b"\\" else bytes((int(g[1:], 16),))


def unescape(s: str) -> str:
    """Undo Zeek's TSV escaping: ``\\\\`` is a backslash, ``\\xNN`` a byte (UTF-8 reassembled)."""
    return _ESC.sub(_unesc, s.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")


class Head(NamedTuple):
    """What a file's first bytes say about it as a Zeek log."""

    tsv: bool
    path: str | None
    keys: frozenset[str]


_KEY = re.compile(rb'"([^"\\]{1,80})"\s*:')


def _separator(val: str) -> str | None:
    """The ``#separator`` value (``\\x09`` style), or None if it is unusable."""
    if val.startswith("\\x"):
        try:
            val = val.encode().decode("unicode_escape")
        except UnicodeDecodeError:
            return None
    return val or None


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """Zeek JSON from some shippers nests records (``"id": {"orig_h": ...}``): use dotted keys."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if v.__class__ is dict:
            for k2, v2 in v.items():
                out[f"{k}.{k2}"] = v2
        else:
            out[k] = v
    return out


def head_info(head: bytes) -> Head | None:
    """The ``#path`` and field names in a Zeek TSV header or in the first JSON lines; else None."""
    lines = head.split(b"\n")
    if head.startswith(b"#"):
        sep, path, fields, zeek = "\t", None, None, False
        for raw in lines:
            if not raw.startswith(b"#"):
                break
            text = raw.rstrip(b"\r").decode("utf-8", "replace")
            if text.startswith("#separator"):
                sep = _separator(text[len("#separator") :].strip()) or sep
                zeek = True
                continue
            key, _, val = text.partition(sep)
            if key == "#path":
                path = val
            elif key == "#fields":
                fields = val.split(sep)
        if not zeek and fields is None:
            return None
        return Head(True, path, frozenset(fields or ()))
    keys: set[str] = set()
    path = None
    for i, raw in enumerate(lines[:50]):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith(b"{"):
            return None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            if i != len(lines) - 1:
                return None
            if not keys:  # the only line, cut by the head size: take the keys it shows
                keys.update(k.decode("utf-8", "replace") for k in _KEY.findall(line))
            break
        if obj.__class__ is not dict:
            return None
        p = obj.get("_path") or obj.get("@stream")
        if path is None and p.__class__ is str:
            path = p
        keys.update(_flatten(obj) if "id" in obj else obj)
    keys.update([k.replace("_", ".", 1) for k in keys if k.startswith("id_")])  # id_orig_h style
    return Head(False, path, frozenset(keys)) if keys else None


def _jv(v: Any) -> Any:
    """A JSON value in the form a TSV value would have (numbers stay numbers)."""
    c = v.__class__
    if c is str or c is int or c is float or v is None:
        return v
    if c is bool:
        return "T" if v else "F"
    if c is list:
        return ",".join(str(_jv(x)) for x in v)
    return orjson.dumps(v).decode()


def _jtext(v: Any) -> str:
    v = _jv(v)
    return v if v.__class__ is str else str(v)


class _Header:
    """The TSV header in force: separator, placeholders, where the mapped fields are."""

    def __init__(self, log: ZeekLog) -> None:
        self.log = log
        self.sep = "\t"
        self.unset = "-"
        self.empty = "(empty)"
        self.path: str | None = None
        self.n = 0
        self.ts_i = 0
        self.pos: list[int] = []
        self.rest: list[tuple[int, str]] = []
        self.missing: list[str] = []
        self.problem: str | None = "data line before a #fields header"

    def directive(self, line: str) -> None:
        if line.startswith("#separator"):
            self.sep = _separator(line[len("#separator") :].strip()) or self.sep
            self.path = None  # a new header begins
            return
        key, _, val = line.partition(self.sep)
        if key == "#unset_field":
            self.unset = val
        elif key == "#empty_field":
            self.empty = val
        elif key == "#path":
            self.path = val
            self._check()
        elif key == "#fields":
            self._fields(val.split(self.sep))

    def _fields(self, names: list[str]) -> None:
        log = self.log
        index = {f: i for i, f in enumerate(names)}
        self.n = len(names)
        self.ts_i = index.get("ts", -1)
        self.pos = [index.get(f, self.n) for f in log.fields]  # n: the unset sentinel
        keep = log.keep_raw
        self.rest = [(i, f) for i, f in enumerate(names) if f not in log.mapped or f in keep]
        self.missing = [f for f in ("ts", *log.required) if f not in index]
        self._check()

    def _check(self) -> None:
        if not self.n:
            return
        log = self.log
        if log.path is not None and self.path is not None and self.path != log.path:
            self.problem = f"record of Zeek log {self.path!r} in a {log.path!r} input"
        elif self.missing:
            self.problem = "#fields header lacks required column " + ", ".join(self.missing)
        else:
            self.problem = None


class ZeekParser:
    """A Zeek log read by the shared TSV/JSON reader and mapped by its ``ZeekLog``."""

    name = "zeek"
    description = "Zeek log"
    log: ZeekLog

    def __init__(self, name: str, description: str, log: ZeekLog) -> None:
        self.name = name
        self.description = description
        self.log = log
        self._need = [(log.fields.index(f), f) for f in log.needed]

    def sniff(self, head: bytes, name: str) -> bool:
        info = head_info(head)
        return info is not None and self.log.matches(info)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        reader = LineReader(stream)
        hdr = _Header(self.log)
        buf = BatchBuffer(self.name, ctx)
        for lineno, bline in reader:
            if bline[:1] == b"#":
                hdr.directive(bline.rstrip(b"\r").decode("utf-8", "replace"))
                continue
            try:
                line = bline.rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError as exc:
                buf.reject(lineno, f"invalid UTF-8 at byte {exc.start}", bline)
                continue
            try:
                if line[:1] == "{":
                    row, raw, path = self._json(line, lineno, ctx)
                else:
                    row, raw, path = self._tsv(line, hdr, lineno, ctx)
            except BadRecord as exc:
                buf.reject(lineno, exc.reason, bline)
                continue
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                buf.reject(lineno, f"malformed record ({type(exc).__name__})", bline)
                continue
            uid = row[25]
            key = None if uid is None else f"zeek|{self.log.path or path or '-'}|{uid}|{row[0]}"
            buf.add(row, raw, key)
            if len(buf) >= MAX_BATCH_ROWS:
                yield buf.take(reader.take_problems())
        extra = reader.take_problems()
        if len(buf) or buf.rejections or extra:
            yield buf.take(extra)

    def _check_needed(self, vals: list[Any]) -> None:
        for i, f in self._need:
            if vals[i] is None:
                raise BadRecord(f"missing field {f}")

    def _tsv(
        self, line: str, hdr: _Header, lineno: int, ctx: ParseContext
    ) -> tuple[Row, Raw, str | None]:
        """The row, raw fields and log type (``#path``) of one TSV line."""
        if hdr.problem is not None:
            raise BadRecord(hdr.problem)
        parts = line.split(hdr.sep)
        if len(parts) != hdr.n:
            raise BadRecord(f"expected {hdr.n} fields, got {len(parts)}")
        if "\\" in line:
            parts = [unescape(p) if "\\" in p else p for p in parts]
        unset, empty = hdr.unset, hdr.empty
        ts_v = parts[hdr.ts_i]
        if ts_v == unset:
            raise BadRecord("missing field ts")
        ts = nz.epoch_ts(ts_v, ctx, "ts")
        parts.append(unset)
        vals = [None if (x := parts[i]) == unset else ("" if x == empty else x) for i in hdr.pos]
        if self._need:
            self._check_needed(vals)
        row = self.log.row(ts, vals, lineno)
        raw = {f: ("" if x == empty else x) for i, f in hdr.rest if (x := parts[i]) != unset}
        if self.log.raw_path and hdr.path is not None:
            raw["_path"] = hdr.path
        return row, raw, hdr.path

    def _json(self, line: str, lineno: int, ctx: ParseContext) -> tuple[Row, Raw, str | None]:
        """The row, raw fields and log type (``_path``/``@stream``) of one JSON line."""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise BadRecord("invalid JSON") from None
        log = self.log
        if "id" in obj:  # a line starting with "{" decodes to a dict or fails
            obj = _flatten(obj)
        elif "id_orig_h" in obj or "id_resp_h" in obj:  # scope separator "_" (ROCK, Kafka)
            for f in log.dotted:
                if (alt := f.replace(".", "_")) in obj:
                    obj[f] = obj.pop(alt)
        p = obj.get("_path")
        if p is None:
            p = obj.get("@stream")
        if log.path is not None and p is not None and p != log.path:
            raise BadRecord(f"record of Zeek log {p!r} in a {log.path!r} input")
        ts_v = obj.get("ts")
        if ts_v is None:
            raise BadRecord("missing field ts")
        if ts_v.__class__ is str and ("T" in ts_v or "-" in ts_v[1:]):  # ISO-8601, not epoch
            ts = nz.iso_ts(ts_v, ctx, "ts")
        else:
            ts = nz.epoch_ts(ts_v, ctx, "ts")
        g = obj.get
        vals = [_jv(g(f)) for f in log.fields]
        if self._need:
            self._check_needed(vals)
        row = log.row(ts, vals, lineno)
        keep, mapped = log.keep_raw, log.mapped
        raw = {
            k: _jtext(v) for k, v in obj.items() if v is not None and (k not in mapped or k in keep)
        }
        return row, raw, None if p is None else str(p)
