"""Exfiltration to a new place: a large upload to an external address nobody here ever used.

Data stolen in bulk goes somewhere: a cloud account or server the intruder controls. Backups,
mail and cloud suites the company uses are contacted every day by someone. A (host, external
destination) pair is flagged for a day when no internal host contacted that destination in the
``lookback_days`` before, the host sent it at least ``min_bytes`` that day, and that is at least
``ratio`` times the host's median daily outbound volume over the look-back (a host with no earlier
outbound day needs only ``min_bytes``). The first ``warmup_days`` only build the history. External
means what ``exfil.outbound_volume`` says it means. One finding per host, destination and day.
The finding also cites the session that staged the upload (``_staging``): interactive and RDP
logons onto the host in the ``staging_hours`` before, their source hosts, and the records between.

Judged day by day against its state: ``dests`` (every external address internal hosts
contacted, and the last day they did), ``daily`` (each host's outbound bytes per day, kept for
``LOOKBACK_KEPT`` days: the query reads only the look-back of the judged day, so when older rows
go changes nothing) and ``host_names`` (``_staging``). The raw events of the day before are read
too, for the staging session of an early-morning upload. A slice of several days is judged as
its days one at a time: a destination's previous contact and a host's earlier days are the
state's and the slice's earlier days', and its staging session is looked for as that day's
alone would be (``staging(day=)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_bytes, fmt_ts, vals
from ashiato.detect.detectors.exfil._staging import (
    CONTEXT_DAYS,
    NAMES,
    attach,
    describe,
    judged,
    names_of,
    staging,
)
from ashiato.detect.detectors.exfil.outbound_volume import PRIVATE
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

LOOKBACK_KEPT = 90
"""Days of per-host daily volumes the state keeps: the longest look-back (``lookback_days``
beyond it counts as this many for the host's usual day)."""

SPEC = DetectorSpec(
    id="exfil.new_external_destination",
    title="Large upload to an external address never used before",
    version="5",
    severity="high",
    techniques=("T1048", "T1567"),
    needs=(EventKind.NETWORK_FLOW,),
    requires_inventory=False,
    description=(
        "A host uploads a large volume in a day to an external address that no internal host "
        "contacted in the look-back window, far above its own usual daily outbound volume."
    ),
    params=(
        Param("min_bytes", 50_000_000, "Bytes one host sends the new destination in a day."),
        Param("ratio", 10.0, "Times the host's median daily outbound volume it must reach."),
        Param(
            "lookback_days",
            30,
            "How far back any contact makes a destination known (and, up to 90 days, the "
            "days whose median is the host's usual day).",
        ),
        Param("warmup_days", 7, "Initial days that only build the history."),
        Param("staging_hours", 4, "Hours before the upload whose interactive logons are cited."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "dests",
            keys={"dst_ip": "string"},
            values={"last_day": "timestamp('UTC', 6)"},
            combine={"last_day": "max"},
            description="Every external address internal hosts contacted, and the last day "
            "any did.",
        ),
        StateTable(
            "daily",
            keys={"src": "string", "day": "timestamp('UTC', 6)"},
            values={"total": "int64"},
            combine={"total": "sum"},
            description="Each host's bytes to external addresses per day it had external flows "
            "(its usual day), for the look-back.",
            keep_days=LOOKBACK_KEPT,
            keep_by="day",
        ),
        NAMES,
    ),
    context_days=CONTEXT_DAYS,
    multi_day=True,
)


def _flows(ctx: DetectionContext) -> ibis.Table:
    """The judged days' flows to external addresses, with their source host."""
    e = judged(ctx)
    f = e.filter(
        (e.kind == EventKind.NETWORK_FLOW.value)
        & e.dst_ip.notnull()
        & e.dst_site.isnull()
        & ~e.dst_ip.lower().re_search(PRIVATE)
    )
    return f.mutate(
        src=f.src_asset.fill_null(f.src_host).fill_null(f.src_ip),
        day=f.ts.truncate("D"),
        out=f.bytes_out.fill_null(0),
    ).filter(lambda r: r.src.notnull())


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    f = _flows(ctx)
    lookback = ibis.interval(days=int(p["lookback_days"]))
    usual_days = ibis.interval(days=min(int(p["lookback_days"]), LOOKBACK_KEPT))
    pair = f.group_by("src", "dst_ip", "day").aggregate(volume=f.out.sum().cast("int64"))
    # the destination's previous contact by any internal host, if any: an earlier day of the
    # slice, else the state's last
    seen = f.select("dst_ip", "day").distinct()
    seen = seen.mutate(
        s_prev=seen.day.lag().over(ibis.window(group_by=seen.dst_ip, order_by=seen.day))
    )
    known = ctx.state["dests"]
    pair = pair.inner_join(seen, ["dst_ip", "day"]).select(pair, "s_prev")
    pair = pair.left_join(known, pair.dst_ip == known.dst_ip).select(
        pair, prev_day=pair.s_prev.cast(known.last_day.type()).fill_null(known.last_day)
    )
    pair = pair.drop("s_prev")
    fresh = pair.prev_day.isnull() | (pair.prev_day < pair.day - lookback)
    hot = pair.filter(fresh, pair.volume >= int(p["min_bytes"]))
    start = warmup_end(ctx, int(p["warmup_days"]))
    if start is not None:
        hot = hot.filter(hot.day >= start)
    # the host's days before: the state's and the slice's own
    state = ctx.state["daily"]
    daily = state.select("src", day=state.day.cast(f.day.type()), total=state.total).union(
        f.group_by("src", "day").aggregate(total=f.out.sum().cast("int64"))
    )
    base = hot.left_join(
        daily,
        [
            hot.src == daily.src,
            daily.day < hot.day,
            daily.day >= hot.day - usual_days,
        ],
    )
    base = base.group_by("src", "dst_ip", "day", "volume", "prev_day").aggregate(
        median=base.total.median(), days=base.total.count()
    )
    base = base.filter(base.median.isnull() | (base.volume >= base.median * float(p["ratio"])))
    j = f.inner_join(base, ["src", "dst_ip", "day"])
    res = j.group_by("src", "dst_ip", "day").aggregate(
        volume=j.volume.max(),
        median=j.median.max(),
        history_days=j.days.max(),
        prev_day=j.prev_day.max(),
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        flows=j.count(),
        ports=j.dst_port.collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        src_site=j.src_site.max(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )
    hours = float(p["staging_hours"])
    hot_uploads = res.select(
        "src",
        "dst_ip",
        "day",
        host=res.src,
        host_ip=res.src_ips[0],
        t0=res.first_seen,
        t1=res.last_seen,
    )
    keys = ("src", "dst_ip", "day")
    staged = staging(
        ctx.events,
        hot_uploads,
        keys,
        hours,
        int(p["max_evidence"]),
        ctx.state[NAMES.name],
        day="day",
    )
    out = attach(res, staged, keys)
    return out.mutate(part_day=out.day)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    f = _flows(ctx)
    return {
        "dests": f.group_by("dst_ip").aggregate(last_day=f.day.max()),
        "daily": f.group_by("src", "day").aggregate(total=f.out.sum().cast("int64")),
        NAMES.name: names_of(ctx),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    p = ctx.params
    cap = int(p["max_evidence"])
    src, dst, vol, med = row["src"], row["dst_ip"], row["volume"], row["median"]
    score = min(100.0, 60.0 + 10.0 * math.log10(max(vol / int(p["min_bytes"]), 1.0)))
    ports = ", ".join(str(x) for x in vals(row, "ports"))
    history = (
        f"its median day sends {fmt_bytes(med)} out ({row['history_days']} earlier day(s))"
        if med is not None
        else "it sent nothing out in the look-back window"
    )
    reason = (
        f"{src} sent {fmt_bytes(vol)} to {dst} (port {ports}) on "
        f"{fmt_ts(row['first_seen'])[:10]} in "
        f"{row['flows']} flow(s), {fmt_ts(row['first_seen'])[11:]} to "
        f"{fmt_ts(row['last_seen'])[11:]}; no internal host had contacted {dst} in the "
        f"{p['lookback_days']} days before"
        + (f" (last on {row['prev_day'].date().isoformat()})" if row.get("prev_day") else "")
        + f"; {history}."
    )
    upload = list(row["evidence"][:cap])
    st = describe(row, src, float(p["staging_hours"]), upload)
    reason += st["sentence"]
    staged = st["evidence"]
    src_ips = vals(row, "src_ips")
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{src} uploaded {fmt_bytes(vol)} to new destination {dst}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=min(row["first_seen"], row.get("stage_first") or row["first_seen"]),
        last_seen=row["last_seen"],
        accounts=tuple(st["accounts"]),
        hosts=tuple(sorted({src, *st["hosts"]})),
        sites=tuple(s for s in (row["src_site"],) if s),
        ips=tuple(sorted({*src_ips, dst})),
        reason=reason,
        evidence=tuple(upload + staged),
        evidence_count=int(row["flows"]) + len(staged),
        key=f"{src}|{dst}|{row['day'].date().isoformat()}",
        actors=(src, *src_ips, *st["accounts"], *st["hosts"]),
        details={
            "bytes_out": vol,
            "median_daily_bytes_out": med,
            "destination": dst,
            **st["details"],
        },
    )
