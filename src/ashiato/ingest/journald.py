"""systemd journal exported as JSON lines (``journalctl -o json``): sshd and sudo as access events.

Hosts that log to the journal only have no auth.log; this reads the same messages from the export.
``__REALTIME_TIMESTAMP`` (microseconds, UTC) is the time, ``_HOSTNAME`` the host,
``SYSLOG_IDENTIFIER`` (else ``_COMM``) the program and ``MESSAGE`` the text, which journalctl
writes as an array of byte values when it is not valid UTF-8 (decoded with replacement here).
Messages are mapped by ``syslog_auth.parse_message``; others are kept as kind "other".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from ashiato.ingest import normalise as nz
from ashiato.ingest.base import (
    BadRecord,
    ParseContext,
    ParsedBatch,
    Row,
    parse_json_lines,
)
from ashiato.ingest.syslog_auth import to_row

NAME = "journald"
_RAW_KEYS = ("_PID", "_UID", "_SYSTEMD_UNIT", "PRIORITY", "_TRANSPORT", "_BOOT_ID")


def _text(v: Any, name: str) -> str | None:
    """A journal field: string, null, or an array of byte values (non-UTF-8 data)."""
    if v is None or v.__class__ is str:
        return v
    if v.__class__ is list and all(x.__class__ is int and 0 <= x < 256 for x in v):
        return bytes(v).decode("utf-8", "replace")
    if v.__class__ is list and v and v[0].__class__ is str:  # a field given more than once
        return str(v[0])
    raise BadRecord(f"invalid field {name}: not text or bytes")


def map_entry(obj: Any, lineno: int, ctx: ParseContext) -> tuple[Row, dict[str, Any]]:
    """One decoded journal entry as a row tuple and raw map."""
    if obj.__class__ is not dict:
        raise BadRecord("not a JSON object")
    ts_v = _text(obj.get("__REALTIME_TIMESTAMP"), "__REALTIME_TIMESTAMP")
    if ts_v is None:
        raise BadRecord("missing field __REALTIME_TIMESTAMP")
    if not ts_v.isdigit() or len(ts_v) > 18:
        raise BadRecord("invalid timestamp in __REALTIME_TIMESTAMP")
    ts = nz.check_ts(int(ts_v), ctx, "__REALTIME_TIMESTAMP")
    msg = _text(obj.get("MESSAGE"), "MESSAGE") or ""
    prog = _text(obj.get("SYSLOG_IDENTIFIER"), "SYSLOG_IDENTIFIER") or _text(
        obj.get("_COMM"), "_COMM"
    )
    host = _text(obj.get("_HOSTNAME"), "_HOSTNAME")
    cursor = _text(obj.get("__CURSOR"), "__CURSOR")
    row, raw = to_row(ts, host, prog, msg, lineno, cursor)
    for k in _RAW_KEYS:
        v = obj.get(k)
        if v is not None:
            raw[k] = _text(v, k) if v.__class__ is not int else str(v)
    return row, raw


def _key(row: Row, raw: object) -> str | None:
    """The entry's natural identity: its ``__CURSOR`` (kept as ``record_id``), unique per entry."""
    cursor = row[-1]
    return None if cursor is None else f"journald|{cursor}"


class JournaldParser:
    """journalctl -o json export (one JSON object per line)."""

    name = NAME
    description = "systemd journal JSON export (journalctl -o json): sshd, sudo; others as other"

    def sniff(self, head: bytes, name: str) -> bool:
        first = next((ln.strip() for ln in head.split(b"\n") if ln.strip()), b"")
        if not first.startswith(b"{") or b'"__REALTIME_TIMESTAMP"' not in first:
            return False
        try:
            obj = orjson.loads(first)
        except orjson.JSONDecodeError:
            return False
        return obj.__class__ is dict and "__REALTIME_TIMESTAMP" in obj and "MESSAGE" in obj

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        return parse_json_lines(stream, ctx, NAME, lambda obj, n: map_entry(obj, n, ctx), _key)


PARSER = JournaldParser()
