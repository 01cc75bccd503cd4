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

Judged day by day against its state: ``sent`` (per host, its largest day and how many active
days it had), ``recent`` (per host, its last ``history_days`` active days' volumes, a ring of
that many slots: the day after the host's k-th active day goes to slot k mod ``history_days``,
so the state stays that big however long the history), ``dests`` (every external address
each host ever sent to, for "never used before") and ``host_names`` (``_staging``). The raw
events of the day before are read too, for the staging session of an early-morning upload.
A slice of several days is judged as its days one at a time: a day's largest earlier day, usual
day and used destinations are the state's and the slice's earlier days', and its staging
session is looked for as that day's alone would be (``staging(day=)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_bytes, fmt_ts, short_list, vals
from ashiato.detect.detectors.exfil._staging import (
    CONTEXT_DAYS,
    NAMES,
    attach,
    describe,
    judged,
    names_of,
    staging,
)
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="exfil.outbound_volume",
    title="Outbound volume far above the host's history",
    version="5",
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
    state=(
        StateTable(
            "sent",
            keys={"src": "string"},
            values={"best": "int64", "days": "int64"},
            combine={"best": "max", "days": "sum"},
            description="Per host, its largest day's bytes to external addresses and how many "
            "days it sent any.",
        ),
        StateTable(
            "recent",
            keys={"src": "string", "slot": "int64"},
            values={"day": "timestamp('UTC', 6)", "volume": "int64"},
            combine={"day": "max", "volume": "last:day"},
            description="Per host, its last history_days active days' external bytes (a ring: "
            "the k-th active day is slot k mod history_days, a later day replaces an earlier).",
        ),
        StateTable(
            "dests",
            keys={"src": "string", "dst_ip": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Every external address each host sent bytes to, and when it first did.",
        ),
        NAMES,
    ),
    context_days=CONTEXT_DAYS,
    multi_day=True,
)

PRIVATE = (
    r"^(10\.|127\.|169\.254\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|0\.)"
    r"|^(::1$|fc|fd|fe8|fe9|fea|feb)"
)
"""Addresses that never leave the company (IPv4 RFC 1918, loopback, link-local; IPv6 ULA)."""


def _flows(ctx: DetectionContext) -> ibis.Table:
    """The judged days' flows sending bytes to external addresses, with their source host."""
    e = judged(ctx)
    f = e.filter(
        (e.kind == EventKind.NETWORK_FLOW.value)
        & e.dst_ip.notnull()
        & e.dst_site.isnull()
        & ~e.dst_ip.lower().re_search(PRIVATE)
        & (e.bytes_out > 0)
    )
    return f.mutate(
        src=f.src_asset.fill_null(f.src_host).fill_null(f.src_ip), day=f.ts.truncate("D")
    ).filter(lambda r: r.src.notnull())


def _daily(f: ibis.Table) -> ibis.Table:
    return f.group_by("src", "day").aggregate(volume=f.bytes_out.sum().cast("int64"))


def _earlier_best(daily: ibis.Table, sent: ibis.Table) -> ibis.Table:
    """``daily`` with ``prev``: the host's largest day before each (the state's, or an earlier
    day of the slice), null for a host with none."""
    w = ibis.window(group_by=daily.src, order_by=daily.day, rows=(None, -1))
    daily = daily.mutate(_slice_best=daily.volume.max().over(w))
    daily = daily.left_join(sent, daily.src == sent.src).select(daily, _state_best=sent.best)
    return daily.mutate(
        prev=ibis.greatest(
            daily._slice_best.fill_null(daily._state_best),
            daily._state_best.fill_null(daily._slice_best),
        )
    ).drop("_slice_best", "_state_best")


def _usual(days: ibis.Table, daily: ibis.Table, recent: ibis.Table, n: int) -> ibis.Table:
    """Per host and day of ``days``: the median (``usual``) and number (``history``) of its
    last ``n`` active days before it: the state's ring and the slice's earlier ``daily``."""
    past = recent.select("src", day=recent.day.cast(daily.day.type()), volume=recent.volume)
    past = past.union(daily.select("src", "day", "volume"))
    d = days.select("src", "day")
    past = past.rename(p_src="src", p_day="day")
    j = d.inner_join(past, [d.src == past.p_src, past.p_day < d.day])
    j = j.mutate(_rank=ibis.row_number().over(group_by=[j.src, j.day], order_by=ibis.desc(j.p_day)))
    j = j.filter(j._rank < n)
    return j.group_by(u_src=j.src, u_day=j.day).aggregate(
        usual=j.volume.median(), history=j.volume.count()
    )


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    f = _flows(ctx)
    daily = _earlier_best(_daily(f), ctx.state["sent"])
    # only a day that could reach a threshold needs its usual day
    big = daily.filter(daily.volume >= min(int(p["min_bytes"]), int(p["min_bytes_new"])))
    usual = _usual(big, _daily(f), ctx.state["recent"], int(p["history_days"]))
    daily = big.left_join(usual, [big.src == usual.u_src, big.day == usual.u_day]).select(
        big, usual.usual, history=usual.history.fill_null(0)
    )
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
    start = warmup_end(ctx, int(p["warmup_days"]))
    if start is not None:
        hot = hot.filter(hot.day >= start)
    j = f.inner_join(hot, [f.src == hot.src, f.day == hot.day]).select(
        f, hot.volume, hot.prev, hot.usual
    )
    # the host's external addresses of the days before: the state's, or an earlier day of the
    # slice
    used = ctx.state["dests"]
    firsts = f.group_by(f_src=f.src, f_dst=f.dst_ip).aggregate(f_day=f.day.min())
    j = j.left_join(used, [j.src == used.src, j.dst_ip == used.dst_ip]).select(j, used.first_ts)
    j = j.left_join(firsts, [j.src == firsts.f_src, j.dst_ip == firsts.f_dst]).select(
        j, firsts.f_day
    )
    new = j.first_ts.isnull() & (j.f_day >= j.day)
    j = j.mutate(new_dst=ibis.ifelse(new, j.dst_ip, ibis.null("string")))
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
    hours = float(p["staging_hours"])
    hot_uploads = res.select(
        "src",
        "day",
        host=res.src,
        host_ip=res.src_ips[0],
        t0=res.first_seen,
        t1=res.last_seen,
    )
    keys = ("src", "day")
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
    daily = _daily(f)
    sent = ctx.state["sent"]
    ring = daily.left_join(sent, daily.src == sent.src).select(daily, before=sent.days)
    # the k-th active day of the host (the state's days, then the slice's in order)
    k = ring.before.fill_null(0) + ibis.row_number().over(group_by=ring.src, order_by=ring.day)
    return {
        "sent": daily.select("src", best=daily.volume, days=ibis.literal(1, "int64")),
        "recent": ring.select(
            "src",
            slot=k % int(ctx.params["history_days"]),
            day=ring.day,
            volume=ring.volume,
        ),
        "dests": f.group_by("src", "dst_ip").aggregate(first_ts=f.ts.min()),
        NAMES.name: names_of(ctx),
    }


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
