"""The coverage map: which hosts, sites and log channels have data for which days, and the holes.

Every "no evidence" is only as good as the logs looked at, so the other answers consult this map:
a host without flow logs over the campaign gets an exfiltration verdict of "unknown". Holes that
an intruder leaves on purpose are called out: cleared logs (1102 / 104), Windows record numbers
that skip, and a host that logs every day falling silent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis

from ashiato.events import EventKind
from ashiato.investigate.data import Source
from ashiato.investigate.model import ChannelCoverage, Coverage, Hole

FLOW_CHANNEL = "flow"
"""Channel name prefix of network flow logs (``flow:zeek_conn``)."""

CLEARED_CODES = (1102, 104)
DAILY_SHARE = 0.8
"""A host "logs every day" when it has data on at least this share of the days of its span."""


def recorded(source: Source, hosts: list[str]) -> tuple[ibis.Table, ibis.Value]:
    """The events these hosts recorded themselves (not flows seen on the wire), and each one's
    log channel ("windows:security", "windows:microsoft-windows-sysmon/operational", "zeek"...)."""
    raw = source.raw
    rec = raw.filter(raw.log_host.isin(hosts), raw.kind != EventKind.NETWORK_FLOW.value)
    chan = ibis.ifelse(
        rec.raw["Channel"].notnull(), "windows:" + rec.raw["Channel"].lower(), rec.source
    )
    return rec, chan


def daily_counts(source: Source, hosts: Iterable[str]) -> list[dict[str, Any]]:
    """(host, channel, day, n) for the given hosts: recorded logs and flows either way."""
    hs = sorted(set(hosts))
    if not hs:
        return []
    rec, chan = recorded(source, hs)
    a = rec.select(host=rec.log_host, channel=chan, day=rec.ts.date())
    e = source.events
    flows = e.filter(e.kind == EventKind.NETWORK_FLOW.value)
    fchan = FLOW_CHANNEL + ":" + flows.source
    s = flows.mutate(host=flows.src_asset.coalesce(flows.src_host))
    d = flows.mutate(host=flows.dst_asset.coalesce(flows.dst_host))
    b = s.filter(s.host.isin(hs)).select(host=s.host, channel=fchan, day=s.ts.date())
    c = d.filter(d.host.isin(hs)).select(host=d.host, channel=fchan, day=d.ts.date())
    u = a.union(b).union(c)
    agg = u.group_by(["host", "channel", "day"]).aggregate(n=u.count())
    rows: list[dict[str, Any]] = source.execute(
        agg.order_by(["host", "channel", "day"])
    ).to_pylist()
    return rows


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def record_gaps(source: Source, hosts: Iterable[str]) -> list[Hole]:
    """Windows record numbers that jump by more than one within a host's channel."""
    hs = sorted(set(hosts))
    if not hs:
        return []
    raw = source.raw
    t = raw.filter(raw.log_host.isin(hs), raw.record_id.notnull(), raw.raw["Channel"].notnull())
    t = t.mutate(rec=t.record_id.try_cast("int64"), channel=t.raw["Channel"])
    t = t.filter(t.rec.notnull())
    w = ibis.window(group_by=[t.log_host, t.channel], order_by=t.rec)
    t = t.mutate(
        prev=t.rec.lag().over(w), prev_ts=t.ts.lag().over(w), prev_id=t.event_id.lag().over(w)
    )
    gaps = t.filter(t.rec - t.prev > 1).select(
        "log_host", "channel", "rec", "prev", "prev_ts", "ts", "prev_id", "event_id"
    )
    out = []
    for r in source.execute(gaps.order_by(["log_host", "ts"])).to_pylist():
        missing = int(r["rec"] - r["prev"] - 1)
        out.append(
            Hole(
                host=r["log_host"],
                kind="record_gap",
                start=r["prev_ts"],
                end=r["ts"],
                detail=f"{r['channel']}: {missing} record(s) missing between "
                f"{r['prev']} and {r['rec']}",
                event_ids=[r["prev_id"], r["event_id"]],
            )
        )
    return out


def cleared_logs(source: Source, hosts: Iterable[str]) -> list[Hole]:
    """Log-cleared events (Security 1102, System 104) recorded on the given hosts."""
    hs = sorted(set(hosts))
    raw = source.raw
    t = raw.filter(
        raw.log_host.isin(hs),
        (raw.kind == EventKind.LOG_CLEARED.value) | raw.event_code.isin(list(CLEARED_CODES)),
    ).select("log_host", "ts", "event_code", "user", "event_id")
    return [
        Hole(
            host=r["log_host"],
            kind="cleared",
            start=r["ts"],
            end=r["ts"],
            detail=f"event {r['event_code']}: log cleared by {r['user'] or 'unknown account'}",
            event_ids=[r["event_id"]],
        )
        for r in source.execute(t.order_by(["ts", "event_id"])).to_pylist()
    ]


def _silences(host: str, chan: str, days: set[date], first: date, last: date) -> list[Hole]:
    span = _span(first, last)
    if not span or len(days) < DAILY_SHARE * len(span):
        return []
    holes: list[Hole] = []
    run: list[date] = []
    for d in [*span, None]:
        if d is not None and d not in days:
            run.append(d)
            continue
        if run:
            holes.append(
                Hole(
                    host=host,
                    kind="silent",
                    start=datetime.combine(run[0], datetime.min.time(), UTC),
                    end=datetime.combine(run[-1], datetime.max.time(), UTC),
                    detail=f"{chan}: no logs for {len(run)} day(s) ({run[0]} to {run[-1]}) "
                    f"from a host that logs on {len(days)} of {len(span)} days",
                )
            )
            run = []
    return holes


def coverage_map(source: Source, hosts: Iterable[str]) -> Coverage:
    """Per host and channel the days with data; per site the same; and the suspicious holes."""
    hs = sorted(set(hosts))
    counts = daily_counts(source, hs)
    e = source.events
    span = source.execute(e.aggregate(lo=e.ts.min(), hi=e.ts.max())).to_pylist()[0]
    lo: datetime | None = span["lo"]
    hi: datetime | None = span["hi"]
    per: dict[tuple[str, str], set[date]] = defaultdict(set)
    for r in counts:
        per[(str(r["host"]), str(r["channel"]))].add(r["day"])
    site_of = {a.host: a.site for a in source.inventory.assets}
    channels: list[ChannelCoverage] = []
    sites: dict[str, dict[str, set[date]]] = defaultdict(lambda: defaultdict(set))
    for (host, chan), days in sorted(per.items()):
        first = min(days)
        last = hi.date() if hi else max(days)
        missing = [d.isoformat() for d in _span(first, last) if d not in days]
        channels.append(
            ChannelCoverage(
                host=host,
                site=site_of.get(host),
                channel=chan,
                first_day=first.isoformat(),
                last_day=max(days).isoformat(),
                days=len(days),
                missing_days=missing,
            )
        )
        sites[site_of.get(host) or "unknown"][chan] |= days
    holes = cleared_logs(source, hs) + record_gaps(source, hs)
    if hi is not None:
        for (host, chan), days in sorted(per.items()):
            holes += _silences(host, chan, days, min(days), hi.date())
    return Coverage(
        channels=channels,
        sites={
            s: {c: sorted(d.isoformat() for d in days) for c, days in sorted(ch.items())}
            for s, ch in sorted(sites.items())
        },
        holes=sorted(holes, key=lambda h: (h.start or datetime.min.replace(tzinfo=UTC), h.host)),
        data_start=lo,
        data_end=hi,
    )
