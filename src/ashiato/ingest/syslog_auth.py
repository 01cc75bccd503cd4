"""Linux auth logs from syslog (RFC 3164, RFC 3339-stamped files, RFC 5424): sshd and sudo.

Remote logons to Linux servers (sshd) and privilege use (sudo) are the Linux side of moving with
valid credentials. The message parsers (``parse_message``) are shared with ``journald``. Lines from
other programs are kept as kind "other" (program in ``process``, message in ``raw``) so that
nothing read is dropped; lines that are not syslog at all are rejected.

RFC 3164 stamps ("Nov 28 05:52:39") carry no year and no zone: the year is option ``syslog.year``,
else the year of the ingest's "now" (the previous year if that would put the event more than two
days in the future); the zone is ``ctx.tz``, else UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ashiato.errors import IngestError
from ashiato.ingest import normalise as nz
from ashiato.ingest.base import (
    MAX_BATCH_ROWS,
    ROW_FIELDS,
    BadRecord,
    BatchBuffer,
    LineReader,
    ParseContext,
    ParsedBatch,
    Row,
    to_epoch_us,
)

NAME = "syslog_auth"
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_TAG = r"(?:([^\s:\[]+)(?:\[(\d+)\])?: ?)?(.*)"
RFC3164 = re.compile(
    r"^(?:<(\d{1,3})>)?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\S+) " + _TAG + "$"
)
RFC3339 = re.compile(r"^(?:<(\d{1,3})>)?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*) (\S+) " + _TAG + "$")
RFC5424 = re.compile(
    r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(.*)$"
)

_ACCEPTED = re.compile(r"^Accepted (\S+) for (\S+) from (\S+) port (\d+)")
_FAILED = re.compile(r"^Failed (\S+) for (invalid user )?(\S*) from (\S+) port (\d+)")
_INVALID = re.compile(r"^Invalid user (\S*) from (\S+)(?: port (\d+))?")
_DISCONNECTED = re.compile(r"^Disconnected from user (\S+) (\S+) port (\d+)")
_CLOSED = re.compile(r"^pam_unix\(sshd:session\): session closed for user (\S+)")
_SUDO = re.compile(r"^\s*(\S+) : (?:(.*?) ; )?TTY=(\S*) ; PWD=(.*?) ; USER=(\S+) ;.*?COMMAND=(.*)$")
_AUTHFAIL = re.compile(r"pam_unix\((?:sudo|su|su-l):auth\): authentication failure;(.*)$")
_KV = re.compile(r"(\w+)=(\S*)")


def parse_message(program: str | None, msg: str) -> dict[str, Any] | None:
    """Access-event fields read from an sshd or sudo message, or None if it is not one."""
    if program == "sshd" or (program and program.startswith("sshd")):
        if m := _ACCEPTED.match(msg):
            return {
                "kind": "logon",
                "outcome": "success",
                "auth_package": m[1],
                "user": m[2],
                "src_ip": m[3],
                "src_port": m[4],
            }
        if m := _FAILED.match(msg):
            return {
                "kind": "logon_failure",
                "outcome": "failure",
                "auth_package": m[1],
                "status": "invalid user" if m[2] else None,
                "user": m[3],
                "src_ip": m[4],
                "src_port": m[5],
            }
        if m := _INVALID.match(msg):
            return {
                "kind": "logon_failure",
                "outcome": "failure",
                "status": "invalid user",
                "user": m[1],
                "src_ip": m[2],
                "src_port": m[3],
            }
        if m := _DISCONNECTED.match(msg):
            return {
                "kind": "logoff",
                "outcome": "success",
                "user": m[1],
                "src_ip": m[2],
                "src_port": m[3],
            }
        if m := _CLOSED.match(msg):
            return {"kind": "logoff", "outcome": "success", "user": m[1]}
        return None
    if program in ("sudo", "su"):
        if program == "sudo" and (m := _SUDO.match(msg)):
            failed = m[2] is not None
            return {
                "kind": "logon_failure" if failed else "process_start",
                "outcome": "failure" if failed else "success",
                "status": m[2],
                "user": m[1],
                "process": m[6],
                "raw": {"target_user": m[5], "tty": m[3], "pwd": m[4]},
            }
        if m := _AUTHFAIL.search(msg):
            kv = dict(_KV.findall(m[1]))
            who = kv.get("user") or kv.get("ruser") or kv.get("logname")
            return {
                "kind": "logon_failure",
                "outcome": "failure",
                "status": "authentication failure",
                "user": who,
                "src_ip": kv.get("rhost"),
            }
    return None


def to_row(
    ts: int, host: str | None, program: str | None, msg: str, lineno: int, record_id: str | None
) -> tuple[Row, dict[str, Any]]:
    """A row tuple and raw map for one message from ``host`` (shared with journald)."""
    found = parse_message(program, msg)
    raw: dict[str, Any] = {"message": msg}
    if program:
        raw["program"] = program
    v: dict[str, Any] = {"kind": "other", "outcome": "unknown", "process": program}
    if found is not None:
        raw.update(found.pop("raw", {}))
        v.update(found)
    v["ts"] = ts
    v["user"] = nz.user(v.get("user"))
    v["src_ip"] = nz.ip(v.get("src_ip"))
    v["src_port"] = nz.port(v.get("src_port"), "port")
    v["dst_host"] = v["log_host"] = nz.host(host)
    v["source_offset"] = lineno
    v["record_id"] = record_id
    return tuple(v.get(f) for f in ROW_FIELDS), raw


def zone(ctx: ParseContext) -> tzinfo:
    """``ctx.tz`` as a zone (UTC if unset); IngestError if it names no zone."""
    if not ctx.tz:
        return UTC
    try:
        return ZoneInfo(ctx.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise IngestError(f"unknown time zone {ctx.tz!r}") from None


class _Clock:
    """Turns the three syslog timestamp shapes into plausible epoch microseconds."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.tz = zone(ctx)
        year = ctx.options.get("syslog.year")
        if year is not None and not (year.isdigit() and 1990 <= int(year) <= 9999):
            raise IngestError(f"option syslog.year: not a year: {year!r}")
        self.year = int(year) if year else None
        self.cache: dict[tuple[str, ...], int] = {}

    def bsd(self, mon: str, day: str, hh: str, mm: str, ss: str) -> int:
        key = (mon, day, hh, mm, ss)
        us = self.cache.get(key)
        if us is None:
            if mon not in _MONTHS:
                raise BadRecord(f"invalid timestamp: unknown month {mon!r}")
            y = self.year or self.ctx.now.year
            try:
                args = (_MONTHS[mon], int(day), int(hh), int(mm), int(ss))
                us = to_epoch_us(datetime(y, *args, tzinfo=self.tz))
                if self.year is None and us > self.ctx.max_ts_us:
                    us = to_epoch_us(datetime(y - 1, *args, tzinfo=self.tz))
            except ValueError:
                raise BadRecord("invalid timestamp") from None
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[key] = us
        return nz.check_ts(us, self.ctx, "timestamp")

    def iso(self, text: str) -> int:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise BadRecord("invalid timestamp") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        return nz.check_ts(to_epoch_us(dt), self.ctx, "timestamp")


def _none(v: str | None) -> str | None:
    return None if v in (None, "-", "") else v


class SyslogAuthParser:
    """Syslog files (RFC 3164 / RFC 3339 stamps / RFC 5424): sshd and sudo as access events."""

    name = NAME
    description = "Linux syslog auth logs (auth.log, secure): sshd logons, sudo; others as other"

    def sniff(self, head: bytes, name: str) -> bool:
        lines = [ln for ln in head.split(b"\n")[:21] if ln.strip()]
        if len(lines) > 1 and not head.endswith(b"\n"):
            lines.pop()
        if not lines:
            return False
        text = [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]
        if not any(r.match(text[0]) for r in (RFC5424, RFC3164, RFC3339)):
            return False
        hits = sum(1 for t in text if RFC5424.match(t) or RFC3164.match(t) or RFC3339.match(t))
        return hits * 5 >= len(text) * 4

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        clock = _Clock(ctx)
        reader = LineReader(stream)
        buf = BatchBuffer(NAME, ctx)
        for lineno, bline in reader:
            try:
                line = bline.rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError as exc:
                buf.reject(lineno, f"invalid UTF-8 at byte {exc.start}", bline)
                continue
            try:
                row, raw = self._line(line, lineno, clock)
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
    def _line(line: str, lineno: int, clock: _Clock) -> tuple[Row, dict[str, Any]]:
        if m := RFC5424.match(line):
            ts = clock.iso(m[2])
            msg = m[8].removeprefix("\ufeff")
            row, raw = to_row(ts, _none(m[3]), _none(m[4]), msg, lineno, None)
            if m[7] != "-":
                raw["structured_data"] = m[7]
            if _none(m[5]):
                raw["pid"] = m[5]
            return row, raw
        if m := RFC3164.match(line):
            ts = clock.bsd(m[2], m[3], m[4], m[5], m[6])
            host, prog, pid, msg = m[7], m[8], m[9], m[10]
        elif m := RFC3339.match(line):
            ts = clock.iso(m[2])
            host, prog, pid, msg = m[3], m[4], m[5], m[6]
        else:
            raise BadRecord("not a syslog line (no RFC 3164, RFC 3339 or RFC 5424 header)")
        row, raw = to_row(ts, host, prog, msg, lineno, None)
        if pid:
            raw["pid"] = pid
        return row, raw


PARSER = SyslogAuthParser()
