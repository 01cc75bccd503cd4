"""Lateral-movement hops: an account logs on to host B, then uses B to reach C, as it never had.

People reach servers from their own workstation (or a jump host they always use). An intruder
with stolen credentials moves *through* the estate: logs on to B, then from B on to C. A hop is
flagged when an account acts from a source host it was never seen acting from (after the
warm-up), within ``window_days`` of having logged on to that very host; slow movement (one hop
every few days) is caught as well as fast. A hop from a desk where the account, or the person who
owns it, logged on interactively is someone working there, not movement. Scored by privilege,
what the hop reached, and crossing sites. Needs no inventory (with one, names resolve better).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="lateral.hop_chain",
    title="Lateral-movement hop through a host",
    version="1",
    severity="high",
    techniques=("T1021", "T1078", "T1570"),
    needs=(EventKind.LOGON, EventKind.EXPLICIT_CREDENTIALS, EventKind.SHARE_ACCESS),
    requires_inventory=False,
    description=(
        "An account logs on to a host and then, within days, uses that host as the source of "
        "further logons, which it had never done before."
    ),
    params=(
        Param("window_days", 7, "How long after arriving on a host a hop from it counts."),
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

_KINDS = [k.value for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT]


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    t = e.filter(
        e.kind.isin(_KINDS), e.outcome != "failure", e.user.notnull(), ~e.user.endswith("$")
    )
    t = t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host),
    ).filter(lambda r: r.src.notnull() & r.dst.notnull() & (r.src != r.dst))
    # first time each account acts from each source host
    first = t.group_by("user", "src").aggregate(first_ts=t.ts.min())
    novel = t.inner_join(first, [t.user == first.user, t.src == first.src]).select(
        t, first.first_ts
    )
    novel = novel.filter(novel.ts == novel.first_ts)
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    if start is not None:
        novel = novel.filter(novel.ts >= start)
    # ... soon after the same account arrived on that host
    arrivals = t.select(
        a_user=t.user,
        a_host=t.dst,
        a_ts=t.ts,
        a_from=t.src,
        a_event=t.event_id,
        a_site=t.src_site,
    )
    window = ibis.interval(days=int(p["window_days"]))
    # A person at the keyboard of the source host (the account, or the person who owns it, logged
    # on interactively there) is someone working on that host, not a credential moving through
    # it: an admin on a business trip runs admin tools from the desk they sit at.
    desk = e.filter(
        (e.kind == EventKind.LOGON.value) & e.logon_type.isin([2, 11]) & (e.outcome != "failure")
    )
    desk = desk.select(
        d_user=desk.user, d_host=desk.dst_asset.fill_null(desk.dst_host), d_ts=desk.ts
    )
    present = novel.inner_join(
        desk,
        [
            desk.d_host == novel.src,
            (desk.d_user == novel.user) | (desk.d_user == novel.owner),
            desk.d_ts <= novel.ts,
            desk.d_ts >= novel.ts - window,
        ],
    ).select("event_id")
    novel = novel.anti_join(present, "event_id")
    j = novel.inner_join(
        arrivals,
        [
            novel.user == arrivals.a_user,
            novel.src == arrivals.a_host,
            arrivals.a_ts < novel.ts,
            arrivals.a_ts >= novel.ts - window,
        ],
    )
    return j.group_by("user", "src", "first_ts").aggregate(
        first_seen=j.a_ts.min(),
        last_seen=j.ts.max(),
        hop_events=j.event_id.collect(distinct=True),
        arrival_events=j.a_event.collect(distinct=True),
        came_from=j.a_from.collect(distinct=True),
        went_to=j.dst.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        sites=j.src_site.collect(distinct=True),
        from_sites=j.a_site.collect(distinct=True),
        to_sites=j.dst_site.collect(distinct=True),
        privileged=j.privileged.max(),
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, via = row["user"], row["src"]
    came, went = vals(row, "came_from"), vals(row, "went_to")
    sites = sorted({*vals(row, "sites"), *vals(row, "from_sites"), *vals(row, "to_sites")})
    sensitive = {"file-server", "database", "domain-controller"} & set(vals(row, "dst_roles"))
    score = 60.0 + (15 if row["privileged"] else 0) + (10 if sensitive else 0)
    score += 10 if len(sites) > 1 else 0
    reason = (
        f"{user} logged on to {via} (from {short_list(came)}) and then, for the first time, used "
        f"{via} as a source: on to {short_list(went)} at {fmt_ts(row['first_ts'])}"
        + (f", across sites {', '.join(sites)}" if len(sites) > 1 else "")
        + "."
    )
    evidence = sorted({*vals(row, "arrival_events"), *vals(row, "hop_events")})
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} hopped through {via}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*came, via, *went})),
        sites=tuple(sites),
        ips=(),
        reason=reason,
        evidence=tuple(evidence[:cap]),
        evidence_count=len(evidence),
        key=f"{user}|{via}|{row['first_ts'].isoformat()}",
        actors=(user, via),
        details={"came_from": came, "went_to": went},
    )
