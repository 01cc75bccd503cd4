"""Dormant account reactivation: an account unused for a long time whose credentials work again.

Intruders favour accounts nobody watches: a departed admin's, a project account left enabled. The
signal is the silence before the use. For each account the gap since its previous successful
credential use (logon, explicit credentials, share access, Kerberos TGT or service ticket) is
measured; an event after more than ``dormant_days`` (``dormant_days_privileged`` for a privileged
account) of silence is a reactivation. A short history cannot show a long gap, so a privileged
inventory account whose first use comes only after ``warmup_days`` of data counts too (it was
dormant for the whole baseline), counted from when its home site's logs begin: a site whose logs
start late shows silence, not dormancy. Machine accounts (``$``) are left out, and
so by default are service accounts: migrations, quarterly jobs and new deployments make their
silences normal, and their misuse is ``privilege.service_account_interactive``'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable

SPEC = DetectorSpec(
    id="novelty.dormant_account",
    title="Dormant account used again",
    version="3",
    severity="medium",
    techniques=("T1078", "T1078.002"),
    multi_day=True,
    needs=CREDENTIAL_KINDS,
    requires_inventory=False,
    description=(
        "An account whose credentials were not used for a long time (or, for a privileged "
        "inventory account, not at all during the baseline) is used again."
    ),
    params=(
        Param("dormant_days", 30, "Silence (days) after which an account's next use is flagged."),
        Param("dormant_days_privileged", 14, "The same silence for a privileged account."),
        Param(
            "warmup_days",
            14,
            "A privileged inventory account first used after this many days of data is flagged.",
        ),
        Param(
            "include_service_accounts",
            False,
            "Also judge inventory service accounts (their silences are often scheduled).",
        ),
        Param(
            "evidence_hours", 24, "The account's events after the reactivation kept as evidence."
        ),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "last_use",
            keys={"user": "string"},
            values={"last_ts": "timestamp('UTC', 6)"},
            combine={"last_ts": "max"},
            description="Each judged account's last successful credential use.",
        ),
        StateTable(
            "site_first",
            keys={"site": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="When each site's logs begin.",
        ),
        StateTable(
            "onsets",
            keys={"o_user": "string", "onset_id": "string"},
            values={
                "onset": "timestamp('UTC', 6)",
                "prev_ts": "timestamp('UTC', 6)",
                "o_privileged": "boolean",
                "watch_from": "timestamp('UTC', 6)",
            },
            combine={
                "onset": "min",
                "prev_ts": "min",
                "o_privileged": "bool_or",
                "watch_from": "min",
            },
            description="Reactivations, followed into the next day for ``evidence_hours``.",
        ),
    ),
)

SENSITIVE_ROLES = frozenset({"file-server", "database", "domain-controller"})


def _judged(ctx: DetectionContext) -> ibis.Table:
    """The day's successful credential uses by accounts this detector judges."""
    e, p = ctx.events, ctx.params
    t = e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.user.notnull(),
        e.user != "",
        ~e.user.endswith("$"),
    )
    if not bool(p["include_service_accounts"]):
        t = t.filter(t.account_kind.fill_null("") != "service")
    return t


def _site_first(ctx: DetectionContext) -> ibis.Table:
    """When each site first shows up (either end of any event): its logs start."""
    e = ctx.events
    ends = e.select(site=e.src_site, ts=e.ts).union(e.select(site=e.dst_site, ts=e.ts))
    ends = ends.filter(ends.site.notnull())
    return ends.group_by("site").aggregate(first_ts=ends.ts.min())


def _onsets(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """The day's reactivations: a use after a long silence (the previous use from the state when
    it is the account's first of the day), or a privileged account's first use ever."""
    p = ctx.params
    last = ctx.state["last_use"]
    w = ibis.window(group_by=t.user, order_by=[t.ts, t.event_id])
    t = t.mutate(prev_in=t.ts.lag().over(w))
    t = t.left_join(last, t.user == last.user).drop("user_right")
    t = t.mutate(prev_ts=t.prev_in.fill_null(t.last_ts))
    plain = ibis.interval(days=int(p["dormant_days"]))
    priv = ibis.interval(days=int(p["dormant_days_privileged"]))
    lapsed = t.filter(
        t.prev_ts.notnull()
        & ibis.ifelse(t.privileged, t.ts > t.prev_ts + priv, t.ts > t.prev_ts + plain)
    )
    onsets = lapsed.select(
        o_user=lapsed.user,
        onset=lapsed.ts,
        onset_id=lapsed.event_id,
        prev_ts=lapsed.prev_ts,
        o_privileged=lapsed.privileged,
        watch_from=ibis.null(lapsed.ts.type()),
    )
    if ctx.data_start is None:
        return onsets
    # Never used while we watched: a privileged inventory account silent for ``warmup_days``
    # since the data began, or since its home site's logs began if they started later.
    first = t.filter(t.prev_ts.isnull(), t.privileged)
    seen = ctx.state["site_first"].union(_site_first(ctx))
    sf = seen.group_by("site").aggregate(site_first=seen.first_ts.min())
    first = first.left_join(sf, first.home_site == sf.site)
    at = ctx.data_start_at if ctx.data_start_at is not None else ibis.literal(ctx.data_start)
    start = at.cast(first.ts.type())
    first = first.mutate(watch_from=first.site_first.fill_null(start).cast(first.ts.type()))
    first = first.filter(first.ts >= first.watch_from + ibis.interval(days=int(p["warmup_days"])))
    return onsets.union(
        first.select(
            o_user=first.user,
            onset=first.ts,
            onset_id=first.event_id,
            prev_ts=first.prev_ts,
            o_privileged=first.privileged,
            watch_from=first.watch_from,
        )
    )


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    t = _judged(ctx)
    cols = ("o_user", "onset", "onset_id", "prev_ts", "o_privileged", "watch_from")
    span = ibis.interval(hours=int(p["evidence_hours"]))
    # Reactivations of earlier days whose evidence window reaches into this one go on here.
    old = ctx.state["onsets"]
    old = old.filter(old.onset + span > ctx.slice_start)
    onsets = _onsets(ctx, t).union(old.select(*cols))
    j = onsets.inner_join(
        t,
        [onsets.o_user == t.user, t.ts >= onsets.onset, t.ts < onsets.onset + span],
    )
    # one row per day of evidence, as day-by-day runs give it
    return j.group_by(*cols, part_day=j.ts.truncate("D")).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
        dst_hosts=j.dst_asset.fill_null(j.dst_host).collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        sites=j.src_site.collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        src_hosts=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        groups=j.groups.first(),
        kind=j.account_kind.first(),
        home_site=j.home_site.first(),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    t = _judged(ctx)
    return {
        "last_use": t.group_by("user").aggregate(last_ts=t.ts.max()),
        "site_first": _site_first(ctx),
        "onsets": _onsets(ctx, t),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    p = ctx.params
    cap = int(p["max_evidence"])
    user, onset, prev = row["o_user"], row["onset"], row["prev_ts"]
    privileged = bool(row["o_privileged"])
    dst_hosts, roles = vals(row, "dst_hosts"), vals(row, "dst_roles")
    src = sorted({*vals(row, "src_hosts"), *vals(row, "src_ips")})
    sensitive = sorted(SENSITIVE_ROLES & set(roles))
    score = 55.0 + (20 if privileged else 0) + (10 if sensitive else 0)
    groups = ", ".join(row["groups"] or [])
    who = f"{user} ({groups})" if groups else user
    if prev is None:
        watch = row["watch_from"]
        quiet = (onset - watch).total_seconds() / 86400
        if ctx.data_start is None or watch <= ctx.data_start:
            quiet_text = f"in the first {quiet:.0f} days of data (since {fmt_ts(watch)})"
        else:
            quiet_text = (
                f"in the {quiet:.0f} days since its home site {row['home_site']} began logging "
                f"({fmt_ts(watch)})"
            )
        history = (
            f"no activity {quiet_text}, although the inventory lists it as privileged (first "
            f"activity after {p['warmup_days']} days counts as dormant)"
        )
        gap_days = None
    else:
        gap_days = (onset - prev).total_seconds() / 86400
        limit = int(p["dormant_days_privileged" if privileged else "dormant_days"])
        history = (
            f"last active {gap_days:.0f} days before, on {fmt_ts(prev)} (dormant after {limit} "
            f"days for {'a privileged' if privileged else 'an'} account)"
        )
    reason = (
        f"{who} was used again at {fmt_ts(onset)} from {short_list(src) or 'an unknown source'}: "
        f"{history}. In the next {p['evidence_hours']} h "
        f"it reached {len(dst_hosts)} host(s): {short_list(dst_hosts) or 'none named'}"
        f"{' (' + ', '.join(sensitive) + ')' if sensitive else ''} ({row['n']} events)."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"Dormant account {user} used again",
        severity="high" if score >= 75 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*vals(row, "src_hosts"), *dst_hosts})),
        sites=tuple(sorted({*vals(row, "sites"), *vals(row, "dst_sites")})),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['onset_id']}",
        actors=(user, *src),
        details={
            "onset_event": row["onset_id"],
            "previous_use": prev,
            "gap_days": None if gap_days is None else round(gap_days, 1),
            "privileged": privileged,
            "account_kind": row["kind"],
            "dst_roles": roles,
        },
    )
