"""Beaconing: a host calling one external address at a regular rhythm, as implants do.

Command-and-control implants check in on a timer (every 5 minutes, with a little jitter) and send
about the same few bytes each time; people do neither. Per (source host, external destination,
port) and day with at least ``min_connections`` flows, four RITA-style regularity scores, each 0-1:
interval skew (1 - |Bowley skew| of the gaps between connections), interval dispersion (1 - MAD
of the gaps / their median), connection-count regularity (hours with a connection / the hours
spanned, at least ``min_span_hours``) and data-size regularity (1 - MAD of bytes out / median).
Their mean is the beacon score; a day reaching ``threshold`` counts. Services that are periodic
by design (``exclude_services``, DNS and NTP) and destinations that more than ``max_sources``
internal hosts use (fleet software polling its vendor) are left out. External means what
``exfil.outbound_volume`` says it means. One finding per (host, destination, port), going on
over the days it beacons.

Judged day by day (a rhythm is scored within one day) against its state: ``sources`` (the
internal hosts each external destination was used by, at most ``max_sources`` + 1 of them: enough
to know it is fleet software, which it then stays) and ``beacons`` (per host, destination and
port, how many earlier days were as regular, and since when). A destination's popularity is
known up to the end of the judged day: a beacon judged before the fleet arrived stays a finding.
A slice of several days is judged as its days one at a time: a day's destination users are the
state's and the slice's up to that day, its pair's earlier regular days the state's and the
slice's before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_bytes, fmt_ts, vals
from ashiato.detect.detectors.exfil.outbound_volume import PRIVATE
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="exfil.beaconing",
    title="Beacon-like periodic connections to an external address",
    version="3",
    severity="high",
    techniques=("T1071", "T1029"),
    needs=(EventKind.NETWORK_FLOW,),
    requires_inventory=False,
    description=(
        "A host connects to one external address and port at regular intervals with regular "
        "sizes through a day, as command-and-control implants check in."
    ),
    params=(
        Param("min_connections", 20, "Flows of one pair in a day before its rhythm is judged."),
        Param("threshold", 0.8, "Beacon score (0-1, mean of the four regularity scores)."),
        Param("min_span_hours", 12, "Hours a rhythm must cover to score full count regularity."),
        Param("max_sources", 5, "Destinations more internal hosts than this use are skipped."),
        Param("exclude_services", "udp/53,udp/123", "protocol/port pairs periodic by design."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "sources",
            keys={"dst_ip": "string", "src": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Internal hosts that used each external destination (judged services "
            "only), at most max_sources + 1 per destination: more means fleet software.",
        ),
        StateTable(
            "beacons",
            keys={"src": "string", "dst_ip": "string", "dst_port": "int32"},
            values={"days": "int64", "since": "timestamp('UTC', 6)"},
            combine={"days": "sum", "since": "min"},
            description="Per host, external destination and port: the days its rhythm reached "
            "the threshold, and the first flow of the first of them.",
        ),
    ),
    multi_day=True,
)

PAIR = ["src", "dst_ip", "dst_port"]
KEYS = [*PAIR, "day"]


def _excluded(e: ibis.Table, spec: str) -> ibis.ir.BooleanValue:
    cond: ibis.ir.BooleanValue = ibis.literal(False)
    for item in (s.strip().lower() for s in spec.split(",") if s.strip()):
        proto, _, port = item.partition("/")
        cond |= (e.protocol.lower() == proto) & (e.dst_port == int(port))
    return cond


def _mad(t: ibis.Table, col: str, med: ibis.Table, med_col: str) -> ibis.Table:
    """Per-key median absolute deviation of ``col`` around the key's ``med_col``."""
    j = t.inner_join(med, KEYS).select(*KEYS, d=(t[col] - med[med_col]).abs())
    return j.group_by(KEYS).aggregate(mad=j.d.median())


def _regularity(mad: ibis.ir.NumericValue, med: ibis.ir.NumericValue) -> ibis.ir.NumericValue:
    rel = ibis.ifelse(med > 0, mad / med, ibis.ifelse(mad == 0, 0.0, 1.0))
    return 1.0 - ibis.least(rel, 1.0)


def _flows(ctx: DetectionContext) -> ibis.Table:
    """The judged days' flows to external destinations, periodic-by-design services left out."""
    e = ctx.events
    p = ctx.params
    f = e.filter(
        (e.kind == EventKind.NETWORK_FLOW.value)
        & e.dst_ip.notnull()
        & e.dst_site.isnull()
        & ~e.dst_ip.lower().re_search(PRIVATE)
        & ~_excluded(e, str(p["exclude_services"])).fill_null(False)
    )
    return f.mutate(
        src=f.src_asset.fill_null(f.src_host).fill_null(f.src_ip),
        day=f.ts.truncate("D"),
        t=f.ts.epoch_seconds().cast("float64"),
        size=f.bytes_out.fill_null(0).cast("float64"),
    ).filter(lambda r: r.src.notnull())


def _users(f: ibis.Table) -> ibis.Table:
    """(dst_ip, src, first_ts): which hosts used which destination, and when first."""
    return f.group_by("dst_ip", "src").aggregate(first_ts=f.ts.min())


def _new_users(f: ibis.Table, known: ibis.Table) -> ibis.Table:
    """The slice's users of each destination that the state does not hold, with the day
    (``first_day``) of their first use."""
    new = _users(f).anti_join(known, ["dst_ip", "src"])
    return new.mutate(first_day=new.first_ts.truncate("D"))


def _scored(ctx: DetectionContext) -> tuple[ibis.Table, ibis.Table]:
    """The flows of pairs busy enough to judge on a day (``c``) and the pairs and days (per
    ``KEYS``) whose rhythm reaches the threshold, with their scores (``d``)."""
    p = ctx.params
    f = _flows(ctx)
    busy = f.group_by(KEYS).aggregate(n=f.count())
    busy = busy.filter(busy.n >= int(p["min_connections"]))
    # a destination is fleet software on a day when the state's users and the slice's new
    # users up to that day's end are more than max_sources
    known = ctx.state["sources"]
    have = known.group_by(h_dst="dst_ip").aggregate(have=known.count())
    new = _new_users(f, known)
    days = busy.select(b_dst=busy.dst_ip, b_day=busy.day).distinct()
    upto = days.inner_join(new, [days.b_dst == new.dst_ip, new.first_day <= days.b_day])
    upto = upto.group_by("b_dst", "b_day").aggregate(added=upto.count())
    users = days.left_join(upto, ["b_dst", "b_day"]).select(days, added=upto.added)
    users = users.left_join(have, users.b_dst == have.h_dst).select(
        users, n_src=users.added.fill_null(0) + have.have.fill_null(0)
    )
    popular = users.filter(users.n_src > int(p["max_sources"]))
    busy = busy.anti_join(popular, [busy.dst_ip == popular.b_dst, busy.day == popular.b_day])
    c = f.semi_join(busy, KEYS)
    w = ibis.window(group_by=KEYS, order_by=[c.ts, c.event_id])
    c = c.mutate(gap=c.t - c.t.lag().over(w), hour=(c.t / 3600).floor())
    gaps = c.filter(c.gap.notnull())
    g = gaps.group_by(KEYS).aggregate(
        q1=gaps.gap.quantile(0.25), med=gaps.gap.median(), q3=gaps.gap.quantile(0.75)
    )
    gmad = _mad(gaps, "gap", g, "med")
    s = c.group_by(KEYS).aggregate(
        n=c.count(),
        smed=c.size.median(),
        hours=c.hour.nunique(),
        span=c.hour.max() - c.hour.min() + 1,
        first_seen=c.ts.min(),
        last_seen=c.ts.max(),
    )
    smad = _mad(c, "size", s, "smed").rename(size_mad="mad")
    d = g.inner_join(gmad, KEYS).inner_join(s, KEYS).inner_join(smad, KEYS)
    iqr = d.q3 - d.q1
    bowley = ibis.ifelse(
        (iqr > 0) & (d.med != d.q1) & (d.med != d.q3), (d.q1 + d.q3 - 2 * d.med) / iqr, 0.0
    )
    d = d.mutate(
        skew_score=1.0 - bowley.abs(),
        gap_score=_regularity(d.mad, d.med),
        count_score=d.hours / ibis.greatest(d.span, float(p["min_span_hours"])),
        size_score=_regularity(d.size_mad, d.smed),
    )
    d = d.mutate(
        beacon=(d.skew_score + d.gap_score + d.count_score + d.size_score) / 4.0,
        iqr=iqr,
    )
    return c, d.filter(d.beacon >= float(p["threshold"]))


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    c, d = _scored(ctx)
    # the pair's earlier days as regular: the state's, then the slice's
    w = ibis.window(group_by=[d[k] for k in PAIR], order_by=d.day, rows=(None, 0))
    d = d.mutate(
        _earlier=ibis.row_number().over(group_by=[d[k] for k in PAIR], order_by=d.day),
        _since=d.first_seen.min().over(w),
    )
    before = ctx.state["beacons"]
    top = d.left_join(before, [d[k] == before[k] for k in PAIR]).select(
        *(d[k] for k in PAIR),
        days=before.days.fill_null(0) + d._earlier + 1,
        since=before.since.fill_null(d._since),
        first_seen=d.first_seen,
        last_seen=d.last_seen,
        day=d.day,
        n=d.n,
        med=d.med,
        mad=d.mad,
        iqr=d.iqr,
        smed=d.smed,
        hours=d.hours,
        span=d.span,
        beacon=d.beacon,
        skew_score=d.skew_score,
        gap_score=d.gap_score,
        count_score=d.count_score,
        size_score=d.size_score,
    )
    ev = c.semi_join(d, KEYS)
    ev = ev.group_by(KEYS).aggregate(
        flows=ev.count(),
        src_ips=ev.src_ip.collect(distinct=True),
        src_site=ev.src_site.max(),
        protocol=ev.protocol.max(),
        evidence=earliest(ev.event_id, ev.ts, int(p["max_evidence"])),
    )
    out = top.inner_join(ev, KEYS)
    return out.mutate(part_day=out.day)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    cap = int(ctx.params["max_sources"]) + 1
    known = ctx.state["sources"]
    have = known.group_by("dst_ip").aggregate(have=known.count())
    new = _new_users(_flows(ctx), known)
    new = new.left_join(have, "dst_ip").select(new, have=have.have.fill_null(0))
    # a destination's first max_sources + 1 users (day by day, by name within a day, as daily
    # runs add them, so every run keeps the same)
    new = new.mutate(
        rank=ibis.row_number().over(group_by=new.dst_ip, order_by=[new.first_day, new.src])
    )
    new = new.filter(new.rank < cap - new.have)
    _, d = _scored(ctx)
    return {
        "sources": new.select("dst_ip", "src", "first_ts"),
        "beacons": d.select(*PAIR, days=ibis.literal(1, "int64"), since=d.first_seen),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    src, dst, port = row["src"], row["dst_ip"], row["dst_port"]
    beacon, days = float(row["beacon"]), int(row["days"])
    score = min(100.0, 50.0 + 45.0 * beacon + min(days - 1, 5))
    day = row["day"].date().isoformat()
    reason = (
        f"{src} → {dst}:{port} every {row['med']:.0f} s ± {row['mad']:.0f} s, {row['n']} "
        f"connections, {fmt_bytes(row['smed'])} each, in {row['hours']} of {row['span']} hours on "
        f"{day} (beacon score {beacon:.2f}: interval skew {row['skew_score']:.2f}, dispersion "
        f"{row['gap_score']:.2f}, count {row['count_score']:.2f}, size {row['size_score']:.2f})"
        + (f"; as regular on {days} days." if days > 1 else ".")
        + f" From {fmt_ts(row['since'])} to {fmt_ts(row['last_seen'])}."
    )
    src_ips = vals(row, "src_ips")
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{src} beacons to {dst}:{port}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(),
        hosts=(src,),
        sites=tuple(s for s in (row["src_site"],) if s),
        ips=tuple(sorted({*src_ips, dst})),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["flows"]),
        key=f"{src}|{dst}|{port}",
        actors=(src, *src_ips),
        details={
            "beacon_score": round(beacon, 3),
            "interval_median_s": row["med"],
            "interval_mad_s": row["mad"],
            "bytes_median": row["smed"],
            "connections": row["n"],
            "days": days,
        },
    )
