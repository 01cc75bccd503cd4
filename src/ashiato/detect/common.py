"""Helpers that several detectors share: which kinds count as access, and how to say things."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from ashiato.events import EventKind

ACCESS_KINDS = (
    EventKind.LOGON,
    EventKind.SHARE_ACCESS,
    EventKind.SHARE_OBJECT,
    EventKind.EXPLICIT_CREDENTIALS,
    EventKind.KERBEROS_SERVICE,
    EventKind.NETWORK_FLOW,
)
"""Event kinds that show one endpoint reaching another."""

CREDENTIAL_KINDS = (
    EventKind.LOGON,
    EventKind.KERBEROS_TGT,
    EventKind.SHARE_ACCESS,
    EventKind.SHARE_OBJECT,
    EventKind.EXPLICIT_CREDENTIALS,
    EventKind.KERBEROS_SERVICE,
)
"""Kinds that show an account's credentials used from a source (a TGT request included)."""


MAX_EVIDENCE = 2000
"""Evidence event ids a finding keeps by default (its ``evidence_count`` counts them all)."""

_EVIDENCE_KEY = dt.Struct({"ts": dt.Timestamp(timezone="UTC"), "id": dt.string})


@ibis.udf.agg.builtin(
    name="min_by", signature=((dt.string, _EVIDENCE_KEY, dt.int64), dt.Array(dt.string))
)
def _min_by_n(arg, key, n):  # type: ignore[no-untyped-def]
    """DuckDB's ``min_by(arg, key, n)``: the n args with the smallest keys, in key order."""


def earliest(
    event_id: ir.StringColumn, ts: ir.TimestampColumn, n: int = MAX_EVIDENCE
) -> ir.ArrayColumn:
    """The ``n`` earliest event ids of a group (ties by id), oldest first.

    Why not ``collect(order_by=...)`` and a slice in Python: a list aggregate holds every id of
    a group in memory and cannot spill; over years of the same accounts one group holds millions.
    ``min_by`` with a count keeps a bounded heap per group, so evidence costs ``n`` ids at most.
    """
    return _min_by_n(event_id, ibis.struct({"ts": ts, "id": event_id}), n)


def fmt_ts(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts else "?"


def local_time(ts: datetime, tz: str | None) -> str:
    """``ts`` in a site's local time, for reasons that analysts read."""
    if not tz:
        return fmt_ts(ts)
    return ts.astimezone(ZoneInfo(tz)).strftime(f"%Y-%m-%d %H:%M {tz}")


def fmt_bytes(n: float) -> str:
    """A byte count in decimal units, as analysts read transfer sizes: '40.1 GB', '1.2 KB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def short_list(items: Sequence[str], limit: int = 4) -> str:
    items = list(items)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def vals(row: Mapping[str, Any], key: str) -> list[Any]:
    """Non-null values of a collected list column (engines return null for an all-null group)."""
    return sorted(v for v in (row.get(key) or []) if v is not None)
