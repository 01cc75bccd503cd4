"""The timeline: every event of the scoped accounts on the scoped hosts and every finding, in order.

Analysts across offices read times in their own zone, so each row carries UTC and the local
time of its source and destination sites side by side; ties break by event id.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pacsv

from ashiato.investigate.data import Source
from ashiato.investigate.model import Scope
from ashiato.quote import jsontext, spreadsheet

TIMELINE = pa.schema(
    [
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("src_local", pa.string()),
        pa.field("dst_local", pa.string()),
        pa.field("event_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("event_code", pa.int32()),
        pa.field("user", pa.string()),
        pa.field("src", pa.string()),
        pa.field("src_site", pa.string()),
        pa.field("dst", pa.string()),
        pa.field("dst_site", pa.string()),
        pa.field("logon_type", pa.int32()),
        pa.field("share", pa.string()),
        pa.field("path", pa.string()),
        pa.field("bytes_out", pa.int64()),
        pa.field("log_host", pa.string()),
        pa.field("source", pa.string()),
        pa.field("title", pa.string()),
    ]
)
"""One row per event or finding (kind ``finding``, event_id the finding id, title its title)."""

_EVENT_COLS = [f.name for f in TIMELINE if f.name not in ("src_local", "dst_local", "title")]


def _local(ts: datetime | None, tz: str | None) -> str | None:
    if ts is None or not tz:
        return None
    return ts.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


def scoped_events(source: Source, scope: Scope) -> pa.Table:
    """Events by the scope's accounts that involve its hosts, within the campaign span."""
    e = source.events
    hosts = sorted({h.host for h in scope.hosts})
    accounts = sorted({a.account for a in scope.accounts})
    if not hosts or not accounts:
        return source.execute(e.limit(0))
    src = e.src_asset.coalesce(e.src_host, e.src_ip)
    dst = e.dst_asset.coalesce(e.dst_host, e.log_host)
    t = e.filter(
        e.user.isin(accounts),
        src.isin(hosts) | dst.isin(hosts) | e.log_host.isin(hosts),
        e.ts >= scope.seeds.start,
        e.ts <= scope.seeds.end,
    ).mutate(src=src, dst=dst)
    return source.execute(
        t.select(*_EVENT_COLS, "src_timezone", "dst_timezone").order_by(["ts", "event_id"])
    )


def build_timeline(
    events: pa.Table, findings: Iterable[dict[str, Any]], timezones: dict[str, str]
) -> pa.Table:
    """Merge events (``scoped_events``) and findings into one TIMELINE table sorted by time."""
    rows: list[dict[str, Any]] = []
    for r in events.to_pylist():
        row = {k: r.get(k) for k in _EVENT_COLS}
        row["src_local"] = _local(r["ts"], r.get("src_timezone"))
        row["dst_local"] = _local(r["ts"], r.get("dst_timezone"))
        row["title"] = None
        rows.append(row)
    for f in findings:
        sites = (f.get("entities") or {}).get("sites") or []
        tz = timezones.get(sites[0]) if sites else None
        rows.append(
            {
                "ts": f["first_seen"],
                "src_local": _local(f["first_seen"], tz),
                "dst_local": None,
                "event_id": f["finding_id"],
                "kind": "finding",
                "event_code": None,
                "user": ",".join((f.get("entities") or {}).get("accounts") or []) or None,
                "src": None,
                "src_site": ",".join(sites) or None,
                "dst": None,
                "dst_site": None,
                "logon_type": None,
                "share": None,
                "path": None,
                "bytes_out": None,
                "log_host": None,
                "source": f["detector"],
                "title": f["title"],
            }
        )
    rows.sort(key=lambda r: (r["ts"], r["event_id"]))
    return pa.Table.from_pylist(rows, schema=TIMELINE)


def write_jsonl(timeline: pa.Table, path: str | Path) -> Path:
    """Write the timeline as JSON lines (one object per row, times in ISO 8601); values are
    exact, with control and bidirectional characters as JSON escapes."""
    out = Path(path)
    with out.open("wb") as fh:
        for r in timeline.to_pylist():
            fh.write(jsontext.dumpb(r) + b"\n")
    return out


def write_csv(timeline: pa.Table, path: str | Path, raw: bool = False) -> Path:
    """Write the timeline as CSV with a header row.

    Cells a spreadsheet would run as formulas (``= + - @``, TAB, CR first) get a leading ``'``
    and control characters are shown escaped (``quote.spreadsheet``); ``raw=True`` writes the
    values as logged, for tools rather than spreadsheets.
    """
    out = Path(path)
    pacsv.write_csv(spreadsheet.neutralise_table(timeline, raw=raw), out)
    return out
