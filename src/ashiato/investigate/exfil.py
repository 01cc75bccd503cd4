"""Exfiltration verdict: did data leave for external networks from the hosts the intruder touched?

Per host, the largest daily volume sent to external addresses (neither RFC 1918 nor any site's
CIDR) during the campaign is compared with the host's own days before it and with its peers
(same site and role) over the same days. A host without flow logs over the campaign gets
"unknown", never "no evidence": absence of logs is not absence of exfiltration.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from ashiato.events import EventKind
from ashiato.investigate.coverage import FLOW_CHANNEL
from ashiato.investigate.data import Source
from ashiato.investigate.model import Coverage, Exfiltration, HostExfil

EVIDENCE = "evidence of exfiltration"
NO_EVIDENCE = "no evidence"
UNKNOWN = "unknown"

MIN_BYTES = 1_000_000
"""Below this many bytes a day to external networks nothing is called exfiltration."""
FACTOR = 10.0
"""A day counts when it exceeds this many times the host's baseline and its peers' days."""
MAX_EVIDENCE = 200
BULK = 0.95
"""Evidence flows: the largest ones that together carry this share of the hot days' bytes."""


def _internal(ip: ir.StringValue) -> ir.BooleanValue:
    return (
        ip.startswith("10.")
        | ip.startswith("192.168.")
        | ip.re_search(r"^172\.(1[6-9]|2[0-9]|3[01])\.")
        | ip.startswith("127.")
        | ip.startswith("169.254.")
        | ip.lower().startswith("fc")
        | ip.lower().startswith("fd")
        | ip.lower().startswith("fe80")
        | (ip == "::1")
    )


def external_flows(events: ir.Table, hosts: Iterable[str]) -> ir.Table:
    """Flows from ``hosts`` to addresses outside every site and every private range."""
    e = events
    host = e.src_asset.coalesce(e.src_host)
    t = e.filter(e.kind == EventKind.NETWORK_FLOW.value, e.dst_ip.notnull(), e.dst_site.isnull())
    t = t.mutate(host=host).filter(lambda x: x.host.isin(sorted(set(hosts))))
    return t.filter(~_internal(t.dst_ip))


def daily_external(source: Source, hosts: Iterable[str]) -> list[dict[str, Any]]:
    """(host, day, bytes) sent to external networks, for every day with such flows."""
    t = external_flows(source.events, hosts)
    t = t.mutate(day=t.ts.date(), b=t.bytes_out.fill_null(0))
    agg = t.group_by(["host", "day"]).aggregate(bytes=t.b.sum())
    rows: list[dict[str, Any]] = source.execute(agg.order_by(["host", "day"])).to_pylist()
    return rows


def _peers(source: Source, host: str) -> list[str]:
    by = {a.host: a for a in source.inventory.assets}
    me = by.get(host)
    if me is None:
        return []
    return [a.host for a in source.inventory.assets if (a.site, a.role) == (me.site, me.role)]


def exfiltration(
    source: Source,
    hosts: Iterable[str],
    start: datetime,
    end: datetime,
    coverage: Coverage,
) -> Exfiltration:
    """Verdict per touched host and overall (evidence wins over unknown, unknown over none)."""
    hs = sorted(set(hosts))
    peers = {h: [p for p in _peers(source, h) if p not in hs] for h in hs}
    everyone = sorted(set(hs) | {p for ps in peers.values() for p in ps})
    daily: dict[str, dict[date, int]] = defaultdict(dict)
    for r in daily_external(source, everyone):
        daily[r["host"]][r["day"]] = int(r["bytes"] or 0)
    d0, d1 = start.date(), end.date()
    results: list[HostExfil] = []
    for h in hs:
        days = daily.get(h, {})
        during = {d: b for d, b in days.items() if d0 <= d <= d1}
        before = [b for d, b in days.items() if d < d0]
        base = float(max(before)) if before else 0.0
        peer_max = [
            max((b for d, b in daily.get(p, {}).items() if d0 <= d <= d1), default=0)
            for p in peers[h]
        ]
        peer = float(statistics.median(peer_max)) if peer_max else 0.0
        threshold = max(MIN_BYTES, FACTOR * base, FACTOR * peer)
        hot = sorted(d for d, b in during.items() if b > threshold)
        flow_days = {
            d for d in coverage.days_with(h, FLOW_CHANNEL) if d0.isoformat() <= d <= d1.isoformat()
        }
        total = sum(during.values())
        if hot:
            verdict = EVIDENCE
            reason = (
                f"{total:,} bytes to external networks during the campaign; on "
                f"{', '.join(map(str, hot[:5]))} over {threshold:,.0f} bytes a day "
                f"(own earlier maximum {base:,.0f}, peers' median {peer:,.0f})"
            )
        elif not flow_days:
            verdict = UNKNOWN
            reason = f"no flow logs for {h} between {d0} and {d1}"
        else:
            verdict = NO_EVIDENCE
            reason = (
                f"{total:,} bytes to external networks on {len(flow_days)} day(s) with flow "
                f"logs; below {threshold:,.0f} a day"
            )
        dests, ids = _evidence(source, h, hot) if hot else ([], [])
        results.append(HostExfil(h, verdict, total, base, peer, dests, reason, ids))
    verdicts = {r.verdict for r in results}
    overall = EVIDENCE if EVIDENCE in verdicts else UNKNOWN if UNKNOWN in verdicts else NO_EVIDENCE
    if not results:
        overall = UNKNOWN
    return Exfiltration(overall, results)


def _evidence(source: Source, host: str, days: list[date]) -> tuple[list[str], list[str]]:
    """Destinations and the largest flows that make up ``BULK`` of the volume on the hot days."""
    t = external_flows(source.events, [host])
    t = t.filter(t.ts.date().isin([ibis.literal(d) for d in days]))
    t = t.order_by([ibis.desc(t.bytes_out), t.event_id])
    rows = source.execute(t.select("event_id", "dst_ip", "bytes_out")).to_pylist()
    total = sum(r["bytes_out"] or 0 for r in rows)
    kept: list[dict[str, Any]] = []
    acc = 0
    for r in rows:
        if acc >= BULK * total or len(kept) >= MAX_EVIDENCE:
            break
        kept.append(r)
        acc += r["bytes_out"] or 0
    return sorted({r["dst_ip"] for r in kept}), [r["event_id"] for r in kept]
