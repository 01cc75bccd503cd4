"""Windows event log files (EVTX), read with the Rust ``evtx`` library: one row per event record.

The binary format every Windows host writes (Security, System, Sysmon, TerminalServices...). The
``evtx`` package (pyevtx-rs) renders each record as JSON; this module finds the System fields and
the EventData/UserData fields, makes every value text (the library types them loosely: ints,
bools, ``EventID`` as ``{"#text", "#attributes"}``), and hands them to the shared Windows mapping
(``windows.py``). Message codes such as ``%%1833`` are kept as they are.

Damage is data: a record the library cannot read becomes one rejection carrying the library's
error text, and reading goes on with the next. A chunk it cannot read (or skips without a word,
or that a truncated file lacks) loses every record in it: ``evtx_chunks`` counts them from the
chunk headers, one rejection per record naming the chunk and the record's identifier.
``source_offset`` is the record number the file gives each record (forced strictly increasing, so
event ids stay unique); ``record_id`` is the System ``EventRecordID``; ``record_key`` the
event's identity across files and formats (``windows.record_key``).

Speed, per record on one core (the largest real files): the Rust library ~3 µs, ``orjson`` ~2.2 µs,
this module ~4 µs (SystemTime 0.8, EventData to text 0.9, the mapping 1.1, the raw map 0.5, the
rest navigation and the per-file cache of channel/provider/computer), BatchBuffer ~3 µs: ~75k
records/s. Over all real files (67 records each on average) ~57k/s, a third of it the fixed cost
of building one Arrow batch per file. A columnar mapping (pick values per record, normalise with
``pyarrow.compute`` per batch) was measured against this and not taken: the per-record work it
removes is ~1 µs of ~12, while each compute call costs 2-16 µs on a small batch, a loss on the
small files that real collections are made of.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson
from evtx import PyEvtxParser

from ashiato.ingest import normalise as nz
from ashiato.ingest import windows
from ashiato.ingest.base import (
    MAX_BATCH_ROWS,
    MIN_TS_US,
    BadRecord,
    BatchBuffer,
    ParseContext,
    ParsedBatch,
    Raw,
    Rejection,
    Row,
    to_epoch_us,
)
from ashiato.ingest.evtx_chunks import FileLayout, lost_records, read_layout

NAME = "evtx"
MAGIC = b"ElfFile\x00"
HEADER_BLOCK = 4096
BATCH_ROWS = min(MAX_BATCH_ROWS, 10_000)
"""Windows rows carry ~25 raw fields as Python strings until the batch is built: small batches
keep a worker's peak memory low at no measurable cost in speed."""
MAX_ERRORS_IN_A_ROW = 100_000
"""Stop after this many consecutive unreadable records/chunks (a file of noise)."""
MAX_OFFSET = (1 << 63) - 1
"""``source_offset`` is an int64: a record identifier past it (a damaged record header) is not
used as the offset, which then follows the previous record's."""

_EMPTY: dict[str, Any] = {}
_RECORD_NO = re.compile(r"record number (\d+)")
_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


def _text(v: Any) -> str | None:
    """One EventData value as text: numbers and bools as XML renders them, structures as JSON."""
    c = v.__class__
    if c is str or v is None:
        return v  # type: ignore[no-any-return]
    if c is bool:
        return "true" if v else "false"
    if c is int or c is float:
        return str(v)
    if c is dict and "#text" in v and len(v) <= 2:  # unnamed <Data>, or an element with attributes
        v = v["#text"]
        if v.__class__ is list:
            return "\n".join("" if x is None else str(x) for x in v)
        return _text(v)
    return orjson.dumps(v).decode()


def _fields(section: Any) -> dict[str, Any]:
    """EventData (or one UserData element) as a dict of text values, the same dict when possible."""
    if section.__class__ is not dict:
        return {} if section is None else {"Data": _text(section)}
    for k, v in section.items():
        if v is not None and v.__class__ is not str:
            section[k] = _text(v)  # same keys: safe while iterating
    section.pop("#attributes", None)
    return section


def _event_data(ev: dict[str, Any]) -> dict[str, Any]:
    ed = ev.get("EventData")
    if ed is not None:
        return _fields(ed)
    ud = ev.get("UserData")
    if ud.__class__ is not dict:
        return _fields(ud)
    out: dict[str, Any] | None = None
    for elem in ud.values():  # usually one element (EventXML, LogFileCleared, ...)
        if elem.__class__ is not dict:
            continue
        if out is None:
            out = _fields(elem)
        else:
            out.update(_fields(elem))
    return {} if out is None else out


@lru_cache(maxsize=1 << 16)
def _utc_seconds(prefix: str) -> int:
    return to_epoch_us(datetime.fromisoformat(prefix)) // 1_000_000


def _system_time(v: Any, ctx: ParseContext) -> int:
    """SystemTime as the library writes it ('2019-04-30T19:27:00.297450Z'), fast; else ISO-8601."""
    if v.__class__ is str and len(v) == 27 and v[19] == "." and v[26] == "Z" and v[20:26].isdigit():
        try:
            us = _utc_seconds(v[:19]) * 1_000_000 + int(v[20:26])
        except ValueError:
            raise BadRecord("invalid timestamp in TimeCreated") from None
        if MIN_TS_US <= us <= ctx.max_ts_us:
            return us
        return nz.check_ts(us, ctx, "TimeCreated")
    return nz.iso_ts(v, ctx, "TimeCreated")


Site = tuple[dict[int, windows.Handler], str | None, Any, Any, Any]
"""What depends only on (Channel, Provider, Computer): handlers, log host, their text forms."""
_MAX_SITES = 1024


def _site(channel: Any, provider: Any, computer: Any) -> Site:
    return (
        windows.handlers(channel, provider),
        nz.host(computer),
        _text(channel),
        _text(computer),
        _text(provider),
    )


def map_record(
    data: str, header_ts: Any, offset: int, ctx: ParseContext, sites: dict[Any, Site]
) -> tuple[Row, Raw]:
    """Map one record's JSON (as the library renders it) to a row tuple and its raw map.

    ``sites`` caches the per-(channel, provider, computer) work across the records of a file:
    a file has a handful of such triples, and looking them up again cost ~0.5 µs per record.
    """
    obj = orjson.loads(data)
    ev = obj.get("Event") if obj.__class__ is dict else None
    if ev.__class__ is not dict:
        raise BadRecord("no Event element")
    sysd = ev.get("System")
    if sysd.__class__ is not dict:
        raise BadRecord("no System element")
    eid = sysd.get("EventID")
    if eid.__class__ is dict:
        eid = eid.get("#text")
    code = eid if eid.__class__ is int and 0 <= eid < 65536 else nz.small_int(eid, "EventID")
    if code is None:
        raise BadRecord("missing field EventID")
    tc = sysd.get("TimeCreated")
    time_text = tc.get("#attributes", _EMPTY).get("SystemTime") if tc.__class__ is dict else None
    if time_text is None:
        if header_ts.__class__ is not str:
            raise BadRecord("missing field TimeCreated")
        time_text = header_ts.removesuffix(" UTC")
    ts = _system_time(time_text, ctx)
    prov = sysd.get("Provider")
    provider = prov.get("#attributes", _EMPTY).get("Name") if prov.__class__ is dict else None
    key = (sysd.get("Channel"), provider, sysd.get("Computer"))
    try:
        site = sites[key]
    except KeyError:
        if len(sites) >= _MAX_SITES:
            sites.clear()
        site = sites[key] = _site(*key)
    except TypeError:  # an unhashable (structured) value: not cached
        site = _site(*key)
    table, log_host, channel, computer, provider = site
    rid = sysd.get("EventRecordID")
    record_id = None if rid is None else str(rid)
    ed = _event_data(ev)
    row = table.get(code, windows.other)(code, ed.get, log_host, ts, offset, record_id)
    return row, windows.add_system(
        ed, (channel, computer, str(code), provider, record_id, time_text)
    )


def _local_path(stream: BinaryIO) -> str | None:
    """The path of ``stream`` if it is a plain local file (not gzip, not a zip member)."""
    if not isinstance(stream, io.BufferedReader) or not isinstance(stream.raw, io.FileIO):
        return None
    name = stream.name
    if not isinstance(name, str):
        return None
    try:
        return name if os.path.samestat(os.fstat(stream.fileno()), Path(name).stat()) else None
    except (OSError, ValueError):
        return None


class EvtxParser:
    """Windows EVTX event log files (any channel), via pyevtx-rs."""

    name = NAME
    description = "Windows event log files (.evtx): Security, System, Sysmon, TerminalServices..."

    def sniff(self, head: bytes, name: str) -> bool:
        return head.startswith(MAGIC)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        path = _local_path(stream)
        if path is not None:
            with open(path, "rb") as fh:
                head = fh.read(HEADER_BLOCK)
                layout = read_layout(fh, os.fstat(fh.fileno()).st_size)
            yield from self._parse(path, head, layout, [], ctx)
            return
        with tempfile.TemporaryFile(prefix="ashiato-evtx-") as tmp:
            problems: list[Rejection] = []
            try:
                shutil.copyfileobj(stream, tmp, 1 << 20)
            except (EOFError, zlib.error, OSError) as exc:  # truncated/corrupt compressed input
                reason = (
                    f"input stream broken after {tmp.tell()} bytes: {exc or type(exc).__name__}"
                )
                problems.append(Rejection(0, reason, ""))
            size = tmp.tell()
            tmp.seek(0)
            head = tmp.read(HEADER_BLOCK)
            layout = read_layout(tmp, size)
            tmp.seek(0)
            yield from self._parse(tmp, head, layout, problems, ctx)

    def _parse(
        self,
        source: str | IO[bytes],
        head: bytes,
        layout: FileLayout | None,
        problems: list[Rejection],
        ctx: ParseContext,
    ) -> Iterator[ParsedBatch]:
        buf = BatchBuffer(NAME, ctx)
        try:
            records = PyEvtxParser(source, number_of_threads=1).records_json()
        except Exception as exc:  # the library's header check: not an EVTX file after all
            problems.append(Rejection(0, f"unreadable EVTX file header: {exc}", _hex_excerpt(head)))
            yield buf.take(problems)
            return
        last = 0
        errors_in_a_row = 0
        sites: dict[Any, Site] = {}
        seen: set[int] = set()  # identifiers of the records read: the rest of a chunk was lost
        chunk_errors: list[str] = []
        rec: Any
        while True:
            try:
                rec = next(records)
            except StopIteration:
                break
            except Exception as exc:
                m = _RECORD_NO.search(str(exc))
                if m:
                    no = int(m.group(1))
                    seen.add(no)
                    at = no if no <= MAX_OFFSET else last + 1
                    buf.reject(at, f"unreadable EVTX record: {exc}", b"")
                else:  # a whole chunk: its records are counted from the chunk headers below
                    chunk_errors.append(str(exc))
                errors_in_a_row += 1
                if errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                    buf.reject(last + 1, "too many unreadable chunks in a row: rest skipped", b"")
                    break
                continue
            except BaseException as exc:  # a Rust panic (pyo3 PanicException)
                if isinstance(exc, _FATAL):
                    raise
                buf.reject(last + 1, f"EVTX library failed, rest of file skipped: {exc}", b"")
                break
            errors_in_a_row = 0
            no = rec.get("event_record_id")
            offset = no if no.__class__ is int and last < no <= MAX_OFFSET else last + 1
            last = offset
            seen.add(no if no.__class__ is int else offset)
            data = rec.get("data")
            try:
                row, raw = map_record(data, rec.get("timestamp"), offset, ctx, sites)
            except BadRecord as exc:
                buf.reject(offset, exc.reason, _bytes(data))
                continue
            except orjson.JSONDecodeError:
                buf.reject(offset, "invalid JSON from the EVTX library", _bytes(data))
                continue
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                buf.reject(offset, f"malformed record ({type(exc).__name__})", _bytes(data))
                continue
            buf.add(row, raw, windows.record_key(row, raw))
            if len(buf) >= BATCH_ROWS:
                yield buf.take(problems)
                problems = []
        if layout is not None:
            lost, chunk_errors = lost_records(layout, seen, chunk_errors)
            problems.extend(lost)
        problems.extend(
            Rejection(last + 1, f"unreadable EVTX record or chunk: {msg}", "")
            for msg in chunk_errors
        )
        if len(buf) or buf.rejections or problems:
            yield buf.take(problems)


def _hex_excerpt(b: bytes) -> str:
    return b[:64].hex()


def _bytes(data: Any) -> bytes:
    return data.encode("utf-8", "replace")[:800] if data.__class__ is str else b""


PARSER = EvtxParser()
