"""Generic CSV or JSON-lines exports (VPN, firewall, proxy) read through a small YAML mapping file.

Every product exports its own columns; rather than one parser each, a mapping file says which
column fills which ACCESS_EVENT field. It is given as ``--format mapped --option mapping=FILE``;
this parser never sniffs. Example::

    format: csv              # csv | jsonl
    delimiter: ","           # csv only
    header: true             # csv only: first line names the columns (else give `columns:`)
    timestamp: {field: time, format: iso8601, tz: Asia/Tokyo}  # iso8601|epoch|epoch_ms|strptime
    kind: network_flow       # or {field: action, map: {allow: network_flow}, default: other}
    outcome: {field: result, map: {ok: success, denied: failure}}   # optional
    fields: {src_ip: client_ip, user: username, bytes_out: sent_bytes}

Field names are checked against ACCESS_EVENT; an unknown one is an IngestError naming the file and
key. Unmapped columns go to ``raw``. A row lacking a mapped column is rejected naming the column.
JSON columns may be dotted paths into nested objects (``source.ip``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ashiato.errors import IngestError
from ashiato.events import ACCESS_EVENT, EventKind
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
from ashiato.ingest.syslog_auth import zone

NAME = "mapped"
MAPPABLE = tuple(
    f.name
    for f in ACCESS_EVENT
    if f.name
    not in {"event_id", "ts", "kind", "outcome", "source", "source_file", "source_offset", "raw"}
)
"""ACCESS_EVENT fields a mapping's ``fields`` may fill (ts, kind, outcome have their own keys)."""

_OUTCOME_WORDS = {
    "success": "success", "ok": "success", "allow": "success", "allowed": "success",
    "accept": "success", "accepted": "success", "true": "success", "pass": "success",
    "failure": "failure", "fail": "failure", "failed": "failure", "deny": "failure",
    "denied": "failure", "block": "failure", "blocked": "failure", "reject": "failure",
    "rejected": "failure", "false": "failure", "drop": "failure",
}  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimestampSpec(_Strict):
    field: str
    format: str = "iso8601"
    """iso8601, epoch, epoch_ms, or a strptime pattern (contains %)."""
    tz: str | None = None


class ValueMap(_Strict):
    field: str
    map: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class Mapping(_Strict):
    """A mapping file's content."""

    format: Literal["csv", "jsonl"]
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = True
    columns: list[str] | None = None
    timestamp: TimestampSpec
    kind: EventKind | ValueMap = EventKind.OTHER
    outcome: ValueMap | None = None
    fields: dict[str, str] = Field(default_factory=dict)

    @cached_property
    def used(self) -> frozenset[str]:
        cols = {self.timestamp.field, *self.fields.values()}
        for v in (self.kind, self.outcome):
            if isinstance(v, ValueMap):
                cols.add(v.field)
        return frozenset(cols)


def load_mapping(path: str) -> Mapping:
    """Read and validate a mapping file; IngestError naming the file (and key) when it is wrong."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise IngestError(f"mapping file {path}: cannot read: {exc}") from None
    if not isinstance(doc, dict):
        raise IngestError(f"mapping file {path}: not a YAML mapping")
    unknown = [k for k in (doc.get("fields") or {}) if k not in MAPPABLE]
    if unknown:
        raise IngestError(
            f"mapping file {path}: fields.{unknown[0]}: not an ACCESS_EVENT field "
            f"(known: {', '.join(MAPPABLE)})"
        )
    try:
        m = Mapping.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise IngestError(f"mapping file {path}: {where}: {err['msg']}") from None
    kinds = [m.kind] if isinstance(m.kind, EventKind) else [*m.kind.map.values(), m.kind.default]
    for k in kinds:
        if k is not None and k not in set(EventKind):
            raise IngestError(f"mapping file {path}: kind: {k!r} is not an event kind")
    if m.format == "csv" and not m.header and not m.columns:
        raise IngestError(f"mapping file {path}: columns: needed when header is false")
    if m.timestamp.tz:
        zone(ParseContext(sha256="", path=path, now=datetime.now(), tz=m.timestamp.tz))
    return m


def _get(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]``, else a dotted path into nested objects; KeyError if absent."""
    if key in obj:
        return obj[key]
    cur: Any = obj
    for part in key.split("."):
        if cur.__class__ is not dict or part not in cur:
            raise KeyError(key)
        cur = cur[part]
    return cur


_CONVERT: dict[str, Callable[[Any, str], Any]] = {
    "user": lambda v, n: nz.user(v),
    "domain": lambda v, n: nz.domain(v),
    "src_host": lambda v, n: nz.host(v),
    "dst_host": lambda v, n: nz.host(v),
    "log_host": lambda v, n: nz.host(v),
    "src_ip": lambda v, n: nz.ip(v),
    "dst_ip": lambda v, n: nz.ip(v),
    "src_port": nz.port,
    "dst_port": nz.port,
    "bytes_out": nz.count,
    "bytes_in": nz.count,
    "duration_s": nz.seconds,
    "logon_type": nz.small_int,
    "event_code": nz.small_int,
}


class _Mapper:
    def __init__(self, m: Mapping, ctx: ParseContext) -> None:
        self.m = m
        self.ctx = ctx
        self.tz = zone(
            ParseContext(sha256="", path="", now=ctx.now, tz=m.timestamp.tz or ctx.tz or None)
        )

    def ts(self, v: Any) -> int:
        spec = self.m.timestamp
        name = spec.field
        if v is None or v == "":
            raise BadRecord(f"missing field {name}")
        if spec.format == "epoch":
            return nz.epoch_ts(v, self.ctx, name)
        if spec.format == "epoch_ms":
            try:
                f = float(v) / 1000.0
            except (TypeError, ValueError):
                raise BadRecord(f"invalid timestamp in {name}") from None
            return nz.epoch_ts(f, self.ctx, name)
        try:
            if spec.format == "iso8601":
                dt = datetime.fromisoformat(str(v))
            else:
                dt = datetime.strptime(str(v), spec.format)
        except ValueError:
            raise BadRecord(f"invalid timestamp in {name}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        return nz.check_ts(to_epoch_us(dt), self.ctx, name)

    def row(self, rec: dict[str, Any], lineno: int) -> tuple[Row, dict[str, Any]]:
        def get(col: str) -> Any:
            try:
                return _get(rec, col)
            except KeyError:
                raise BadRecord(f"missing field {col}") from None

        m = self.m
        v: dict[str, Any] = {"ts": self.ts(get(m.timestamp.field))}
        if isinstance(m.kind, ValueMap):
            got = str(get(m.kind.field))
            kind = m.kind.map.get(got, m.kind.default)
            if kind is None:
                raise BadRecord(f"unmapped value {got[:40]!r} in {m.kind.field}")
            v["kind"] = kind
        else:
            v["kind"] = str(m.kind)
        v["outcome"] = "unknown"
        if m.outcome is not None:
            got = str(get(m.outcome.field))
            word = m.outcome.map.get(got) or _OUTCOME_WORDS.get(got.lower())
            v["outcome"] = word if word in ("success", "failure") else "unknown"
        for target, col in m.fields.items():
            val = get(col)
            conv = _CONVERT.get(target)
            v[target] = conv(val, col) if conv else nz.text(val)
        v["source_offset"] = lineno
        raw = {k: val for k, val in rec.items() if k not in m.used and val is not None}
        return tuple(v.get(f) for f in ROW_FIELDS), raw


class MappedParser:
    """CSV or JSON lines read through a YAML mapping file (``--option mapping=FILE``)."""

    name = NAME
    description = "Generic CSV / JSON lines with a YAML mapping file (--option mapping=FILE)"

    def sniff(self, head: bytes, name: str) -> bool:
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[ParsedBatch]:
        path = ctx.options.get("mapping")
        if not path:
            raise IngestError("format mapped needs --option mapping=FILE")
        m = load_mapping(path)
        mapper = _Mapper(m, ctx)
        reader = LineReader(stream)
        buf = BatchBuffer(NAME, ctx)
        header: list[str] | None = None if m.header else list(m.columns or [])
        for lineno, bline in reader:
            try:
                line = bline.rstrip(b"\r").decode("utf-8")
            except UnicodeDecodeError as exc:
                buf.reject(lineno, f"invalid UTF-8 at byte {exc.start}", bline)
                continue
            try:
                if m.format == "jsonl":
                    rec = self._json(line)
                else:
                    values = next(csv.reader([line], delimiter=m.delimiter, strict=True))
                    if header is None:
                        header = [h.strip() for h in values]
                        continue
                    if len(values) != len(header):
                        raise BadRecord(f"expected {len(header)} fields, got {len(values)}")
                    rec = dict(zip(header, values, strict=True))
                row, raw = mapper.row(rec, lineno)
            except BadRecord as exc:
                buf.reject(lineno, exc.reason, bline)
                continue
            except csv.Error as exc:
                buf.reject(lineno, f"bad CSV: {exc}", bline)
                continue
            buf.add(row, raw)
            if len(buf) >= MAX_BATCH_ROWS:
                yield buf.take(reader.take_problems())
        extra = reader.take_problems()
        if len(buf) or buf.rejections or extra:
            yield buf.take(extra)

    @staticmethod
    def _json(line: str) -> dict[str, Any]:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise BadRecord("invalid JSON") from None
        if obj.__class__ is not dict:
            raise BadRecord("not a JSON object")
        return obj


PARSER = MappedParser()
