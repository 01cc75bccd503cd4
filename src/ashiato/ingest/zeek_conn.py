"""Zeek conn.log, as TSV with its ``#fields`` header or as JSON lines: one row per connection.

The network view of lateral movement (who talked to whom, on which port, how many bytes). The TSV
header (``#separator``, ``#unset_field``, ``#empty_field``, ``#fields``) is honoured and may be
repeated mid-file (concatenated logs); lines starting with ``#`` are not records. Fields without an
access-event column (conn_state, history, ...) go to ``raw`` verbatim; unset ones are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

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

NAME = "zeek_conn"
_MAPPED = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
)
_REQUIRED = ("ts", "uid", "id.orig_h", "id.resp_h")


def _row(v: list[Any], unset: str, lineno: int, ctx: ParseContext) -> Row:
    """``v``: the values of _MAPPED, in order (None or ``unset`` when absent)."""
    ts_v, uid, orig_h, orig_p, resp_h, resp_p, proto, service, dur, ob, rb = v
    if ts_v is None or ts_v == unset:
        raise BadRecord("missing field ts")
    ts = nz.epoch_ts(ts_v, ctx, "ts")
    if uid is None or uid == unset:
        raise BadRecord("missing field uid")
    return (
        ts,
        "network_flow",
        None,  # event_code
        "unknown",
        None,  # status
        None,  # user
        None,  # domain
        None,  # logon_type
        None,  # auth_package
        None,  # src_host
        nz.ip(None if orig_h == unset else orig_h),
        nz.port(None if orig_p == unset else orig_p, "id.orig_p"),
        None,  # dst_host
        nz.ip(None if resp_h == unset else resp_h),
        nz.port(None if resp_p == unset else resp_p, "id.resp_p"),
        None if proto == unset else nz.text(proto),
        None if service == unset else nz.text(service),
        nz.count(ob, "orig_bytes", unset),
        nz.count(rb, "resp_bytes", unset),
        nz.seconds(dur, "duration", unset),
        None,  # share
        None,  # path
        None,  # process
        None,  # log_host
        lineno,
        str(uid),
    )


def _json_text(v: Any) -> Any:
    if v.__class__ is bool:
        return "T" if v else "F"
    if v.__class__ is list:
        return ",".join(str(x) for x in v)
    return v


class _Header:
    """The TSV header state: separator, placeholders and field positions."""

    def __init__(self) -> None:
        self.sep = "\t"
        self.unset = "-"
        self.empty = "(empty)"
        self.fields: list[str] = []
        self.pos: list[int] = []
        self.rest: list[tuple[int, str]] = []

    def directive(self, line: str) -> None:
        if line.startswith("#separator"):
            val = line[len("#separator") :].strip()
            self.sep = val.encode().decode("unicode_escape") if val.startswith("\\x") else val
            return
        key, _, val = line.partition(self.sep)
        if key == "#unset_field":
            self.unset = val
        elif key == "#empty_field":
            self.empty = val
        elif key == "#fields":
            self.fields = val.split(self.sep)
            index = {f: i for i, f in enumerate(self.fields)}
            missing = [f for f in _REQUIRED if f not in index]
            self.pos = [] if missing else [index.get(f, -1) for f in _MAPPED]
            self.rest = [(i, f) for i, f in enumerate(self.fields) if f not in _MAPPED]


class ZeekConnParser:
    """Zeek conn.log (TSV with header, or JSON lines)."""

    name = NAME
    description = "Zeek conn.log: TSV with #fields header, or JSON lines"

    def sniff(self, head: bytes, name: str) -> bool:
        if b"#path\tconn" in head:
            return True
        for raw in head.split(b"\n"):
            if raw.startswith(b"#fields"):
                return b"id.orig_h" in raw and b"conn_state" in raw
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if not line.startswith(b"{"):
                return False
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                return False
            return obj.__class__ is dict and "id.orig_h" in obj and "conn_state" in obj
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        reader = LineReader(stream)
        hdr = _Header()
        buf = BatchBuffer(NAME, ctx)
        for lineno, bline in reader:
            if bline.startswith(b"#"):
                hdr.directive(bline.rstrip(b"\r").decode("utf-8", "replace"))
                continue
            try:
                line = bline.rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError as exc:
                buf.reject(lineno, f"invalid UTF-8 at byte {exc.start}", bline)
                continue
            try:
                if line.startswith("{"):
                    row, raw = self._json(line, lineno, ctx)
                else:
                    row, raw = self._tsv(line, hdr, lineno, ctx)
            except BadRecord as exc:
                buf.reject(lineno, exc.reason, bline)
                continue
            buf.add(row, raw)
            if len(buf) >= MAX_BATCH_ROWS:
                yield buf.take(reader.take_problems())
        extra = reader.take_problems()
        if len(buf) or buf.rejections or extra:
            yield buf.take(extra)

    @staticmethod
    def _tsv(line: str, hdr: _Header, lineno: int, ctx: ParseContext) -> tuple[Row, Raw]:
        if not hdr.fields:
            raise BadRecord("data line before a #fields header")
        if not hdr.pos:
            raise BadRecord("#fields header lacks ts, uid, id.orig_h or id.resp_h")
        parts = line.split(hdr.sep)
        if len(parts) != len(hdr.fields):
            raise BadRecord(f"expected {len(hdr.fields)} fields, got {len(parts)}")
        unset = hdr.unset
        row = _row([parts[i] if i >= 0 else None for i in hdr.pos], unset, lineno, ctx)
        raw = {f: parts[i] for i, f in hdr.rest if parts[i] != unset}
        return row, raw

    @staticmethod
    def _json(line: str, lineno: int, ctx: ParseContext) -> tuple[Row, Raw]:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise BadRecord("invalid JSON") from None
        if obj.__class__ is not dict:
            raise BadRecord("not a JSON object")
        ts = obj.get("ts")
        if ts.__class__ is str and ("T" in ts or "-" in ts[1:]):  # ISO-8601, not epoch
            ts_us = nz.iso_ts(ts, ctx, "ts")
            obj["ts"] = f"{ts_us // 1_000_000}.{ts_us % 1_000_000:06d}"
        values = [obj.get(f) for f in _MAPPED]
        for i in (3, 5, 8, 9, 10):  # numbers arrive as JSON numbers: keep them typed
            if values[i].__class__ is bool:
                raise BadRecord(f"non-numeric {_MAPPED[i]}")
        row = _row(values, "\x00unset", lineno, ctx)
        raw = {k: _json_text(v) for k, v in obj.items() if k not in _MAPPED and v is not None}
        return row, raw


PARSER = ZeekConnParser()
