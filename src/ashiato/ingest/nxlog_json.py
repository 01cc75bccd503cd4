"""Windows events as NXLog-flattened JSON lines (OTRF Security-Datasets and most NXLog shippers).

NXLog's ``im_msvistalog`` writes each event as one flat JSON object: the System fields under its own
names (``EventID``, ``Channel``, ``Hostname``, ``SourceName``, ``RecordNumber``, ``EventTime``) next
to the EventData fields (``TargetUserName``, ``LogonType``...). This module separates the two,
drops pure transport fields (``Message``, ``host``, ``port``, ``tags``...), renames the System
fields to the EVTX names (Computer, Provider, EventRecordID) and hands the event to the shared
Windows mapping (``windows.py``). NXLog does not forward UserData, so TerminalServices 1149/21/24/25
arrive without user or address.

Time: the first of ``EventTime``, ``TimeCreated``, ``@timestamp`` present is the event's time. An
explicit zone (``Z``, ``+02:00``) is honoured. NXLog's default ``EventTime`` has none: it is the
collecting host's local time. Such a time is read in ``ctx.tz`` when given; else, when the line
also has NXLog's ``EventReceivedTime`` (same local clock) and a zoned ``@timestamp`` (the shipper's
UTC receive time), the zone offset is their difference rounded to 15 minutes (trusted only if the
remainder, the transport lag, is under 5 minutes); else the time is taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ashiato.errors import IngestError
from ashiato.ingest import normalise as nz
from ashiato.ingest import windows
from ashiato.ingest.base import (
    BadRecord,
    ParseContext,
    ParsedBatch,
    Raw,
    Row,
    parse_json_lines,
    to_epoch_us,
)

NAME = "nxlog_json"
DROPPED = frozenset(
    {"Message", "@version", "tags", "port", "host", "SourceModuleName", "SourceModuleType"}
)
"""Transport fields of NXLog/Logstash, not part of the event: left out of raw."""
_DROPPED = tuple(sorted(DROPPED))
_TIME_FIELDS = ("EventTime", "TimeCreated", "@timestamp")
_QUARTER_S = 900
_MAX_LAG_S = 300


def _has_zone(v: str) -> bool:
    return v[-1:] in ("Z", "z") or (len(v) > 19 and v[-6] in "+-" and v[-3] == ":")


@lru_cache(maxsize=1 << 16)
def _naive_seconds(prefix: str, zone: tzinfo | None) -> int:
    """Epoch seconds of 'YYYY-MM-DD HH:MM:SS' read in ``zone`` (None: UTC)."""
    dt = datetime.fromisoformat(prefix)
    if zone is not None:
        dt = dt.replace(tzinfo=zone)
    return to_epoch_us(dt) // 1_000_000


def _naive_us(v: str, zone: tzinfo | None, name: str) -> int:
    frac = v[20:]
    if len(v) < 19 or v[19:20] not in ("", ".") or not (frac.isdigit() or not frac):
        raise BadRecord(f"invalid timestamp in {name}")
    try:
        sec = _naive_seconds(v[:19], zone)
    except ValueError:
        raise BadRecord(f"invalid timestamp in {name}") from None
    return sec * 1_000_000 + (int((frac + "000000")[:6]) if frac else 0)


@lru_cache(maxsize=4096)
def _offset_from(received: str, stamp: str) -> int | None:
    """Zone offset (seconds) of NXLog's local clock from EventReceivedTime vs @timestamp."""
    try:
        local = datetime.fromisoformat(received)
        utc = datetime.fromisoformat(stamp.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if local.tzinfo is not None or utc.tzinfo is None:
        return None
    diff = (utc.replace(tzinfo=None) - utc.utcoffset() - local) // timedelta(seconds=1)  # type: ignore[operator]
    q = round(diff / _QUARTER_S) * _QUARTER_S
    if abs(diff - q) > _MAX_LAG_S or abs(q) > 14 * 3600:
        return None
    return q


def event_ts(obj: dict[str, Any], ctx: ParseContext, zone: tzinfo | None) -> tuple[int, str]:
    """The event's UTC time (epoch µs) and the text it was read from; see the module docstring."""
    for name in _TIME_FIELDS:
        v = obj.get(name)
        if v is not None:
            break
    else:
        raise BadRecord("missing field EventTime (and TimeCreated, @timestamp)")
    if v.__class__ is not str or not v:
        raise BadRecord(f"invalid timestamp in {name}: not a string")
    if _has_zone(v):
        return nz.iso_ts(v, ctx, name), v
    if zone is None:
        recv, stamp = obj.get("EventReceivedTime"), obj.get("@timestamp")
        if recv.__class__ is str and stamp.__class__ is str and _has_zone(stamp):
            off = _offset_from(recv[:16], stamp[:16] + stamp[-1:] if stamp[-1:] in "Zz" else stamp)
            if off is not None:
                return nz.check_ts(_naive_us(v, None, name) + off * 1_000_000, ctx, name), v
    return nz.check_ts(_naive_us(v, zone, name), ctx, name), v


def _text(v: Any) -> Any:
    c = v.__class__
    if c is str or v is None:
        return v
    if c is bool:
        return "true" if v else "false"
    if c is int or c is float:
        return str(v)
    return orjson.dumps(v).decode()


Site = tuple[dict[int, windows.Handler], str | None, Any, Any, Any]
"""What depends only on (Channel, Hostname, SourceName): handlers, log host, their text forms."""
_MAX_SITES = 1024


def _site(channel: Any, computer: Any, provider: Any) -> Site:
    channel, computer, provider = _text(channel), _text(computer), _text(provider)
    return windows.handlers(channel, provider), nz.host(computer), channel, computer, provider


def map_event(
    obj: Any, lineno: int, ctx: ParseContext, zone: tzinfo | None, sites: dict[Any, Site]
) -> tuple[Row, Raw]:
    """Map one decoded NXLog event to a row tuple (ROW_FIELDS order) and its raw map.

    ``sites`` caches the per-(channel, host, provider) work across the lines of a file.
    """
    if obj.__class__ is not dict:
        raise BadRecord("not a JSON object")
    code_raw = obj.pop("EventID", None)
    if code_raw is None:
        raise BadRecord("missing field EventID")
    code = nz.small_int(code_raw, "EventID")
    if code is None or code > 65535:
        raise BadRecord("EventID out of range" if code else "empty field EventID")
    ts, time_text = event_ts(obj, ctx, zone)
    computer = obj.pop("Hostname", None)
    if computer is None:
        computer = obj.pop("Computer", None)
    provider = obj.pop("SourceName", None)
    if provider is None:
        provider = obj.get("ProviderName")
    rid = obj.pop("RecordNumber", None)
    record_id = None if rid is None else _text(rid)
    key = (obj.get("Channel"), computer, provider)
    for k in _DROPPED:
        if k in obj:
            del obj[k]
    for k, v in obj.items():
        if v is not None and v.__class__ is not str:
            obj[k] = _text(v)  # same keys: safe while iterating
    try:
        site = sites[key]
    except KeyError:
        if len(sites) >= _MAX_SITES:
            sites.clear()
        site = sites[key] = _site(*key)
    except TypeError:  # an unhashable (structured) value: not cached
        site = _site(*key)
    table, log_host, channel, computer, provider = site
    row = table.get(code, windows.other)(code, obj.get, log_host, ts, lineno, record_id)
    system = (channel, computer, str(code), provider, record_id, time_text)
    return row, windows.add_system(obj, system)


def _looks_nxlog(obj: dict[str, Any]) -> bool:
    return (
        "EventID" in obj
        and ("Channel" in obj or "SourceName" in obj)
        and ("Hostname" in obj or "Computer" in obj)
        and "winlog" not in obj
    )


def _zone(ctx: ParseContext) -> tzinfo | None:
    if not ctx.tz:
        return None
    try:
        return ZoneInfo(ctx.tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise IngestError(f"unknown time zone {ctx.tz!r} for {ctx.path}") from exc


class NxlogJsonParser:
    """NXLog-flattened JSON lines of Windows events (any channel)."""

    name = NAME
    description = "Windows events as NXLog-flattened JSON lines (EventID, Channel, Hostname...)"

    def sniff(self, head: bytes, name: str) -> bool:
        parts = head.split(b"\n")
        for i, raw in enumerate(parts):
            line = raw.strip()
            if not line:
                continue
            if not line.startswith(b"{"):
                return False
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                if i != len(parts) - 1 or b'"winlog"' in line:  # a cut last line: keys only
                    return False
                return b'"EventID"' in line and (b'"Hostname"' in line or b'"Computer"' in line)
            return obj.__class__ is dict and _looks_nxlog(obj)
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        zone = _zone(ctx)
        sites: dict[Any, Site] = {}
        return parse_json_lines(
            stream,
            ctx,
            NAME,
            lambda obj, n: map_event(obj, n, ctx, zone, sites),
            windows.record_key,
        )


PARSER = NxlogJsonParser()
