"""Windows Security events as JSON lines in the Winlogbeat / Elastic Common Schema shape.

What most SIEM exports of Windows logs look like. Each line is one event; the Security event code
decides which EventData names fill which access-event fields (4624 logon, 4648 explicit credentials,
4769 Kerberos service ticket, 5145 share object, ...). Codes with no mapping are kept with kind
"other" so that nothing read is lost.
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

NAME = "ecs_json"

KINDS: dict[int, str] = {
    4624: "logon",
    4625: "logon_failure",
    4634: "logoff",
    4647: "logoff",
    4648: "explicit_credentials",
    4672: "privilege_grant",
    4688: "process_start",
    4768: "kerberos_tgt",
    4769: "kerberos_service",
    4771: "logon_failure",
    5140: "share_access",
    5145: "share_object",
}
"""Security event code → EventKind; any other code is stored with kind "other"."""

_LOGON = frozenset({4624, 4625, 4634, 4647})
_FAILING = frozenset({4625, 4771})
_KERBEROS = frozenset({4768, 4769, 4771})
_OUTCOMES = frozenset({"success", "failure", "unknown"})
_EMPTY: dict[str, Any] = {}


def _bad_json(line: bytes) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    return "invalid JSON"


def _dict(v: Any) -> dict[str, Any]:
    return v if v.__class__ is dict else _EMPTY


def map_event(obj: Any, lineno: int, ctx: ParseContext) -> tuple[Row, Raw]:
    """Map one decoded ECS event to a row tuple (ROW_FIELDS order) and its raw map."""
    if obj.__class__ is not dict:
        raise BadRecord("not a JSON object")
    winlog = _dict(obj.get("winlog"))
    event = _dict(obj.get("event"))
    ed_any = winlog.get("event_data")
    ed: dict[str, Any] = ed_any if ed_any.__class__ is dict else {}  # ours to extend
    g = ed.get

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
    code = nz.small_int(code_raw, code_name)
    if code is None:
        raise BadRecord(f"empty field {code_name}")

    computer = winlog.get("computer_name")
    if computer is None:
        computer = _dict(obj.get("host")).get("name")
    log_host = nz.host(computer)
    rid = winlog.get("record_id")
    record_id = None if rid is None else str(rid)

    kind = KINDS.get(code, "other")
    user = domain = auth = src_host = src_ip = dst_host = dst_ip = None
    process = service = share = path = status = None
    logon_type = src_port = None
    if code in _LOGON:
        user = nz.user(g("TargetUserName"))
        domain = nz.domain(g("TargetDomainName"))
        logon_type = nz.small_int(g("LogonType"), "LogonType")
        auth = nz.text(g("AuthenticationPackageName"))
        src_host = nz.host(g("WorkstationName"))
        src_ip = nz.ip(g("IpAddress"))
        src_port = nz.port(g("IpPort"), "IpPort")
        dst_host = log_host
        if code == 4625:
            sub = g("SubStatus")
            status = nz.text(g("Status") if nz.is_zero_status(sub) else sub)
    elif code in _KERBEROS:
        user = nz.user(g("TargetUserName"))
        domain = nz.domain(g("TargetDomainName"))
        src_ip = nz.ip(g("IpAddress"))
        src_port = nz.port(g("IpPort"), "IpPort")
        service = nz.text(g("ServiceName"))
        status = nz.text(g("Status"))
        if code == 4769:
            if service is not None and service.endswith("$"):
                dst_host = service[:-1].lower()
        else:
            dst_host = log_host
    elif code == 4648:
        user = nz.user(g("TargetUserName"))
        domain = nz.domain(g("TargetDomainName"))
        src_host = log_host
        target = nz.host(g("TargetServerName"))
        dst_host = log_host if target == "localhost" else target
        dst_ip = nz.ip(g("IpAddress"))
        process = nz.text(g("ProcessName"))
    elif code in {5140, 5145}:
        user = nz.user(g("SubjectUserName"))
        domain = nz.domain(g("SubjectDomainName"))
        src_ip = nz.ip(g("IpAddress"))
        src_port = nz.port(g("IpPort"), "IpPort")
        dst_host = log_host
        share = nz.text(g("ShareName"))
        if code == 5145:
            path = nz.text(g("RelativeTargetName"))
    elif code in {4672, 4688}:
        user = nz.user(g("SubjectUserName"))
        domain = nz.domain(g("SubjectDomainName"))
        dst_host = log_host
        if code == 4688:
            process = nz.text(g("NewProcessName"))
    else:
        user = nz.user(g("TargetUserName") or g("SubjectUserName"))
        domain = nz.domain(g("TargetDomainName") or g("SubjectDomainName"))
        dst_host = log_host

    outcome = event.get("outcome")
    if outcome not in _OUTCOMES:
        if code in _FAILING:
            outcome = "failure"
        elif code in _KERBEROS:
            outcome = "success" if nz.is_zero_status(status) else "failure"
        else:
            outcome = "success"

    ed["Channel"] = winlog.get("channel")
    ed["Computer"] = computer
    ed["EventID"] = str(code)
    ed["Provider"] = winlog.get("provider_name") or event.get("provider")
    row = (
        ts,
        kind,
        code,
        outcome,
        status,
        user,
        domain,
        logon_type,
        auth,
        src_host,
        src_ip,
        src_port,
        dst_host,
        dst_ip,
        None,  # dst_port
        None,  # protocol
        service,
        None,  # bytes_out
        None,  # bytes_in
        None,  # duration_s
        share,
        path,
        process,
        log_host,
        lineno,
        record_id,
    )
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
                return i == len(parts) - 1 and b'"winlog"' in line
            if obj.__class__ is not dict:
                return False
            if "winlog" in obj:
                return True
            ev = obj.get("event")
            return ev.__class__ is dict and "code" in ev and "host" in obj
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        reader = LineReader(stream)
        buf = BatchBuffer(NAME, ctx)
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        for lineno, line in reader:
            try:
                obj = loads(line)
            except decode_error:
                buf.reject(lineno, _bad_json(line), line)
                continue
            try:
                row, raw = map_event(obj, lineno, ctx)
            except BadRecord as exc:
                buf.reject(lineno, exc.reason, line)
                continue
            except (TypeError, ValueError, AttributeError) as exc:
                buf.reject(lineno, f"malformed record ({type(exc).__name__})", line)
                continue
            buf.add(row, raw)
            if len(buf) >= MAX_BATCH_ROWS:
                yield buf.take(reader.take_problems())
        extra = reader.take_problems()
        if len(buf) or buf.rejections or extra:
            yield buf.take(extra)


PARSER = EcsJsonParser()
