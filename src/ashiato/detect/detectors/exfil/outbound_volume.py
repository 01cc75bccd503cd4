"""Exfiltration: a host sending far more to external networks in a day than it ever did.

Whether data left is the incident's hardest question. Flows (Zeek conn, firewall exports) show
bytes leaving per connection; what gives exfiltration away is volume against the host's own
history, whatever the destination (a cloud address others use every day included): a day whose
outbound bytes to external addresses reach ``min_bytes`` and either ``ratio`` times the host's
largest earlier day, or ``median_ratio`` times its median active day over the previous
``history_days`` active days (once it has ``min_history`` of them; one big day in the past then
does not hide a far bigger one), with the external destinations it had never used before named
(``min_bytes_new`` for a host never seen sending out). External means outside every private range
(RFC 1918, loopback, link-local, ULA) and, with an inventory, outside every site's CIDRs. The
finding also cites the session that staged the upload (``_staging``): interactive and RDP logons
onto the host in the ``staging_hours`` before, their source hosts, and the records between them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_bytes, fmt_ts, short_list, vals
from ashiato.detect.detectors.exfil._staging import attach, describe, staging
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="exfil.outbound_volume",
    title="Outbound volume far above the host's history",
    version="2",
    severity="high",
    techniques=("T1048", "T1567.002", "T1041"),
    needs=(EventKind.NETWORK_FLOW,),
    requires_inventory=False,
    description=(
        "A host sends far more bytes to external addresses in a day than on any earlier day, "
        "often to destinations it never used before."
    ),
    params=(
        Param("min_bytes", 100_000_000, "Outbound bytes in a day before anything counts."),
        Param("min_bytes_new", 1_000_000_000, "The same for a host with no earlier day."),
        Param("ratio", 10.0, "How many times its largest earlier day the volume must reach."),
        Param(
            "median_ratio",
            100.0,
            "Or how many times its median active day it must reach (0: off).",
        ),
        Param("history_days", 30, "Previous active days whose median is the host's usual day."),
        Param("min_history", 5, "Previous active days needed before the median counts."),
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param("staging_hours", 4, "Hours before the upload whose interactive logons are cited."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

PRIVATE = (
    r"^(10\.|127\.|169\.254\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|0\.)"
    r"|^(::1$|fc|fd|fe8|fe9|fea|feb)"
)
"""Addresses that never leave the company (IPv4 RFC 1918, loopback, link-local; IPv6 ULA)."""


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    f = e.filter(
        (e.kind == EventKind.NETWORK_FLOW.value)
        & e.dst_ip.notnull()
        & e.dst_site.isnull()
        & ~e.dst_ip.lower().re_search(PRIVATE)
        & (e.bytes_out > 0)
    )
    f = f.mutate(
        src=f.src_asset.fill_null(f.src_host).fill_null(f.src_ip), day=f.ts.truncate("D")
    ).filter(lambda r: r.src.notnull())
    first_use = f.group_by("src", "dst_ip").aggregate(first_day=f.day.min())
    daily = f.group_by("src", "day").aggregate(volume=f.bytes_out.sum())
    cum = ibis.cumulative_window(group_by="src", order_by="day")
    w = ibis.window(group_by="src", order_by="day")
    prior = ibis.window(group_by="src", order_by="day", rows=(-int(p["history_days"]), -1))
    daily = daily.mutate(
        best=daily.volume.max().over(cum),
        usual=daily.volume.median().over(prior),
        history=daily.volume.count().over(prior),
    ).mutate(prev=lambda r: r.best.lag().over(w))
    ratio, median_ratio = float(p["ratio"]), float(p["median_ratio"])
    above_usual = (
        (daily.history >= int(p["min_history"])) & (daily.volume >= daily.usual * median_ratio)
        if median_ratio > 0
        else ibis.literal(False)
    )
    hot = daily.filter(
        ibis.ifelse(
            daily.prev.isnull(),
            daily.volume >= int(p["min_bytes_new"]),
            (daily.volume >= int(p["min_bytes"]))
            & ((daily.volume >= daily.prev * ratio) | above_usual),
        )
    )
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    if start is not None:
        hot = hot.filter(hot.day >= start)
    j = f.inner_join(hot, [f.src == hot.src, f.day == hot.day]).select(
        f, hot.volume, hot.prev, hot.usual
    )
    j = j.inner_join(first_use, [j.src == first_use.src, j.dst_ip == first_use.dst_ip]).select(
        j, first_use.first_day
    )
    j = j.mutate(new_dst=ibis.ifelse(j.first_day == j.day, j.dst_ip, ibis.null("string")))
    res = j.group_by("src", "day").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        flows=j.count(),
        volume=j.volume.max(),
        prev=j.prev.max(),
        usual=j.usual.max(),
        dsts=j.dst_ip.collect(distinct=True),
        new_dsts=j.new_dst.collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        src_site=j.src_site.max(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )
    hot_uploads = res.select(
        "src", "day", host=res.src, host_ip=res.src_ips[0], t0=res.first_seen, t1=res.last_seen
    )
    keys = ("src", "day")
    staged = staging(
        ctx.events, hot_uploads, keys, float(p["staging_hours"]), int(p["max_evidence"])
    )
    return attach(res, staged, keys)


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    src, prev, usual = row["src"], row["prev"], row.get("usual")
    new = vals(row, "new_dsts")
    jump = row["volume"] / max(prev or 1, 1)
    if usual:  # judged against its usual day when that is the larger jump
        jump = max(jump, row["volume"] / max(usual, 1) / 10)
    score = min(100.0, 55.0 + 5.0 * math.log10(max(jump, 1.0)) * 2 + (10 if new else 0))
    history = (
        f"its largest earlier day was {fmt_bytes(prev)}"
        + (f" and its median active day {fmt_bytes(usual)}" if usual else "")
        if prev is not None
        else "it had never sent to external addresses before"
    )
    upload = list(row["evidence"][:cap])
    st = describe(row, src, float(ctx.params["staging_hours"]), upload)
    reason = (
        f"{src} sent {fmt_bytes(row['volume'])} to {len(vals(row, 'dsts'))} "
        "external address(es) on "
        f"{fmt_ts(row['first_seen'])[:10]} ({row['flows']} flows, {fmt_ts(row['first_seen'])[11:]}"
        f" to {fmt_ts(row['last_seen'])[11:]}); {history}."
        + (f" Never used before: {short_list(new)}." if new else "")
        + st["sentence"]
    )
    staged = st["evidence"]
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{src} sent {fmt_bytes(row['volume'])} out",
        severity="critical" if score >= 90 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=min(row["first_seen"], row.get("stage_first") or row["first_seen"]),
        last_seen=row["last_seen"],
        accounts=tuple(st["accounts"]),
        hosts=tuple(sorted({src, *st["hosts"]})),
        sites=tuple(s for s in (row["src_site"],) if s),
        ips=tuple(sorted({*vals(row, "src_ips"), *vals(row, "dsts")})),
        reason=reason,
        evidence=tuple(upload + staged),
        evidence_count=int(row["flows"]) + len(staged),
        key=f"{src}|{row['day'].date().isoformat()}",
        actors=(src, *vals(row, "src_ips"), *st["accounts"], *st["hosts"]),
        details={
            "bytes_out": row["volume"],
            "previous_max": prev,
            "median_active_day": usual,
            "new_destinations": new,
            **st["details"],
        },
    )
