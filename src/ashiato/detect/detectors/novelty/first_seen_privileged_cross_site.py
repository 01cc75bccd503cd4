"""First-seen privileged cross-site access: an admin account used from a site it never came from.

Stolen administrator credentials keep working, so no signature fires; what changes is *where* they
are used from. For every privileged account and source site, an access to another site's host is
flagged when that (account, source site) pair was not seen in the look-back window before it. The
first ``warmup_days`` of data only build the baseline: with no history nothing can be "new".

It is judged one UTC day at a time against its state: each (account, source site) pair's last use
(the previous use of a pair's first event of the day), and each pair's latest onset, whose later
uses are followed for ``follow_days`` (until the pair's next onset) into the days after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, local_time, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable

SPEC = DetectorSpec(
    id="novelty.first_seen_privileged_cross_site",
    title="Privileged account used from a new site",
    version="4",
    severity="high",
    techniques=("T1078.002", "T1021"),
    multi_day=True,
    needs=CREDENTIAL_KINDS,
    requires_inventory=True,
    description=(
        "A privileged account reaches a host in another site from a source site that the account "
        "was not seen coming from during the look-back window."
    ),
    params=(
        Param("lookback_days", 30, "How far back a previous use from the same site counts."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param(
            "follow_days",
            30,
            "After the first use from a new site, the pair's later uses are followed (evidence, "
            "hosts reached) for this long, or until the pair's next new onset.",
        ),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "last_use",
            keys={"user": "string", "site": "string"},
            values={"last_ts": "timestamp('UTC', 6)"},
            combine={"last_ts": "max"},
            description="Each privileged account's last successful use from each source site.",
        ),
        StateTable(
            "onsets",
            keys={"o_user": "string", "o_site": "string"},
            values={
                "onset": "timestamp('UTC', 6)",
                "onset_id": "string",
                "prev_ts": "timestamp('UTC', 6)",
                "src_tz": "string",
            },
            combine={
                "onset": "max",
                "onset_id": "last:onset",
                "prev_ts": "last:onset",
                "src_tz": "last:onset",
            },
            description=(
                "Each (account, source site) pair's latest first use from a new site: its later "
                "uses are followed into the next days for ``follow_days`` (a newer onset of the "
                "pair ends the window, so only the latest is kept)."
            ),
        ),
    ),
)


_ONSET_COLS = ("o_user", "o_site", "onset", "onset_id", "prev_ts", "src_tz")


def _base(ctx: DetectionContext) -> ibis.Table:
    """The day's successful credential uses by privileged accounts, both sites known."""
    e = ctx.events
    return e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.privileged,
        e.src_site.notnull(),
        e.dst_site.notnull(),
    )


def _onsets(ctx: DetectionContext, base: ibis.Table) -> ibis.Table:
    """The day's first uses of an (account, source site) pair reaching another site with no use
    of the pair in the look-back window before (the previous use comes from the state when it
    is the pair's first of the day)."""
    p = ctx.params
    last = ctx.state["last_use"]
    # Any earlier use from the same site counts as history, whatever it reached.
    w = ibis.window(group_by=[base.user, base.src_site], order_by=[base.ts, base.event_id])
    t = base.mutate(prev_in=base.ts.lag().over(w))
    t = t.left_join(last, [t.user == last.user, t.src_site == last.site])
    t = t.mutate(prev_ts=t.prev_in.fill_null(t.last_ts))
    t = t.filter(t.src_site != t.dst_site)
    lookback = ibis.interval(days=int(p["lookback_days"]))
    novel = t.filter(t.prev_ts.isnull() | (t.ts > t.prev_ts + lookback))
    if ctx.data_start is not None:
        novel = novel.filter(novel.ts >= warmup_end(ctx, int(p["warmup_days"])))
    return novel.select(
        o_user=novel.user,
        o_site=novel.src_site,
        onset=novel.ts,
        onset_id=novel.event_id,
        prev_ts=novel.prev_ts,
        src_tz=novel.src_timezone,
    )


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    base = _base(ctx)
    follow = ibis.interval(days=int(p["follow_days"]))
    # A pair's latest onset of an earlier day is still followed while its window lasts.
    old = ctx.state["onsets"]
    old = old.filter(old.onset + follow > ctx.slice_start).select(*_ONSET_COLS)
    onsets = _onsets(ctx, base).union(old)
    # Everything the credential then does from that site is the analyst's next question (which
    # hosts, which data): follow the pair until its next new onset, at most follow_days.
    nxt = ibis.window(group_by=[onsets.o_user, onsets.o_site], order_by=onsets.onset)
    onsets = onsets.mutate(
        until=ibis.least(
            onsets.onset.lead().over(nxt).fill_null(onsets.onset + follow),
            onsets.onset + follow,
        )
    )
    t = base.filter(base.src_site != base.dst_site)
    j = onsets.inner_join(
        t,
        [
            onsets.o_user == t.user,
            onsets.o_site == t.src_site,
            t.ts >= onsets.onset,
            t.ts < onsets.until,
        ],
    )
    # one row per day of evidence, as day-by-day runs give it
    return j.group_by(*_ONSET_COLS, part_day=j.ts.truncate("D")).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
        dst_hosts=j.dst_asset.fill_null(j.dst_host).collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        src_hosts=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        groups=j.groups.first(),
        home_site=j.home_site.first(),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    base = _base(ctx)
    return {
        "last_use": base.group_by(user=base.user, site=base.src_site).aggregate(
            last_ts=base.ts.max()
        ),
        "onsets": _onsets(ctx, base),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, site = row["o_user"], row["o_site"]
    onset = row["onset"]
    dst_hosts = vals(row, "dst_hosts")
    roles = vals(row, "dst_roles")
    src = sorted({*vals(row, "src_hosts"), *vals(row, "src_ips")})
    local_hour = onset.astimezone(ZoneInfo(row["src_tz"])).hour if row["src_tz"] else None
    night = local_hour is not None and (local_hour >= 22 or local_hour < 5)
    sensitive = {"file-server", "database", "domain-controller"} & set(roles)
    score = 60.0 + (15 if sensitive else 0) + (10 if night else 0)
    score += 10 if row["home_site"] and row["home_site"] != site else 0
    score += min(5.0, float(len(dst_hosts)))
    groups = ", ".join(row["groups"] or []) or "privileged"
    if row["prev_ts"] is None:
        history = f"never before in the data (since {fmt_ts(ctx.data_start)})"
    else:
        history = f"not since {fmt_ts(row['prev_ts'])}"
    reason = (
        f"{user} ({groups}; home site {row['home_site'] or 'unknown'}) was used from {site} "
        f"({short_list(src)}) at {local_time(onset, row['src_tz'])}"
        f"{' (night there)' if night else ''}, {history}. From there, until "
        f"{fmt_ts(row['last_seen'])}, it reached {len(dst_hosts)} host(s) in "
        f"{', '.join(vals(row, 'dst_sites'))}: {short_list(dst_hosts)} ({row['n']} events)."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} used from new site {site}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*vals(row, "src_hosts"), *dst_hosts})),
        sites=tuple(sorted({site, *vals(row, "dst_sites")})),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{site}|{row['onset_id']}",
        actors=(user, *src),
        details={
            "onset_event": row["onset_id"],
            "previous_use": row["prev_ts"],
            "local_hour": local_hour,
            "dst_hosts": dst_hosts,
            "dst_roles": roles,
        },
    )
