"""Windows Security events as JSON lines in the Winlogbeat / Elastic Common Schema shape.

Winlogbeat 7+ nests the event under ``winlog``; Winlogbeat 6 and older put the same parts at top
level (``event_id``, ``log_name``, ``computer_name``, ``record_number``, ``event_data``): both read.

What most SIEM exports of Windows logs look like. Each line is one event; this module only finds
the event's parts (``winlog.event_id``, ``channel``, ``computer_name``, ``record_id``,
``event_data``, ``@timestamp``) and hands them to the shared Windows mapping (``windows.py``), which
decides the kind and fields, so ECS, EVTX and NXLog input agree. Codes with no mapping are kept
with kind "other" so that nothing read is lost. An ECS ``event.outcome`` overrides the mapping's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from ashiato.ingest import normalise as nz
from ashiato.ingest import windows
from ashiato.ingest.base import (
    BadRecord,
    ParseContext,
    ParsedBatch,
    Raw,
    Row,
    parse_json_lines,
)

NAME = "ecs_json"

_OUTCOMES = frozenset({"success", "failure", "unknown"})
_EMPTY: dict[str, Any] = {}


def _dict(v: Any) -> dict[str, Any]:
    return v if v.__class__ is dict else _EMPTY


def _legacy(obj: dict[str, Any]) -> dict[str, Any]:
    """Winlogbeat 6 and older put the event's parts at top level, under other names."""
    return {
        "event_id": obj.get("event_id"),
        "computer_name": obj.get("computer_name"),
        "record_id": obj.get("record_number"),
        "channel": obj.get("log_name"),
        "provider_name": obj.get("source_name"),
        "event_data": obj.get("event_data") or obj.get("user_data"),
    }


def _is_legacy(obj: dict[str, Any]) -> bool:
    return "event_id" in obj and "log_name" in obj and "computer_name" in obj


def map_event(obj: Any, lineno: int, ctx: ParseContext) -> tuple[Row, Raw]:
    """Map one decoded ECS event to a row tuple (ROW_FIELDS order) and its raw map."""
    if obj.__class__ is not dict:
        raise BadRecord("not a JSON object")
    winlog = obj.get("winlog")
    if winlog.__class__ is not dict:
        winlog = _EMPTY
    if not winlog and "log_name" in obj:
        winlog = _legacy(obj)
    event = obj.get("event")
    if event.__class__ is not dict:
        event = _EMPTY
    ed_any = winlog.get("event_data")
    if ed_any is None:  # events with UserData (1102 log cleared, ...): Winlogbeat's user_data
        ed_any = winlog.get("user_data")
    ed: dict[str, Any] = ed_any if ed_any.__class__ is dict else {}  # ours to extend

    ts_raw = obj.get("@timestamp")
    if ts_raw is None:
        raise BadRecord("missing field @timestamp")
    ts = nz.iso_ts(ts_raw, ctx, "@timestamp")

    code_raw = winlog.get("event_id")
    code_name = "winlog.event_id"
    if code_raw is None:
        code_raw = event.get("code")
        code_name = "event.code"
        if code_raw is None:
            raise BadRecord("missing field winlog.event_id (and event.code)")
    code = code_raw if code_raw.__class__ is int else nz.small_int(code_raw, code_name)
    if code is None:
        raise BadRecord(f"empty field {code_name}")
    if not 0 <= code < 2**31:
        raise BadRecord(f"{code_name} out of range")

    computer = winlog.get("computer_name")
    if computer is None:
        computer = _dict(obj.get("host")).get("name")
    rid = winlog.get("record_id")
    record_id = None if rid is None else str(rid)
    channel = winlog.get("channel")
    provider = winlog.get("provider_name") or event.get("provider")
    row = windows.map_event(
        code, channel, provider, nz.host(computer), ts, ed.get, lineno, record_id
    )
    outcome = event.get("outcome")
    if outcome in _OUTCOMES and outcome != row[3]:
        row = (*row[:3], outcome, *row[4:])
    windows.add_system(ed, (channel, computer, str(code), provider, record_id, ts_raw))
    return row, ed


class EcsJsonParser:
    """Winlogbeat / ECS JSON lines of Windows Security events."""

    name = NAME
    description = "Windows Security events as JSON lines, Winlogbeat/ECS shape (winlog.event_data)"

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
                # the first line may be cut by the head size: look for the telltale key instead
                return i == len(parts) - 1 and (b'"winlog"' in line or b'"log_name"' in line)
            if obj.__class__ is not dict:
                return False
            if "winlog" in obj or _is_legacy(obj):
                return True
            ev = obj.get("event")
            return ev.__class__ is dict and "code" in ev and "host" in obj
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        return parse_json_lines(
            stream, ctx, NAME, lambda obj, n: map_event(obj, n, ctx), windows.record_key
        )


PARSER = EcsJsonParser()
