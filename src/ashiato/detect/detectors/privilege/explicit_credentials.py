"""Explicit credentials (4648) for an account on a computer where it was never supplied before.

``runas``, ``net use /user:`` and most lateral-movement tools make Windows log 4648 on the
computer where the credentials were typed or replayed. Admins supply their admin account from
the same few desks; a stolen one is supplied from wherever the intruder sits. The onset is the
first 4648 for an (account, source computer) pair after ``lookback_days`` without one, once the
account has been in use for ``min_history_days`` (new accounts and new offices have no history).
Left out: a service account's credentials on a server (scheduled tasks and agents run as it),
and a source computer at which the account's owner (inventory) logged on interactively within
``owner_hours`` of the onset: the owner at a colleague's desk on a business trip.

The store keeps the 4648's subject (who supplied the credentials) only in ``raw``, which
detectors do not see, so "the subject differs from the target" is approximated by the owner's
presence at the source computer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import ibis

from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="privilege.explicit_credentials",
    title="Account's credentials supplied explicitly on a new computer",
    version="1",
    severity="medium",
    techniques=("T1078", "T1550"),
    needs=(EventKind.EXPLICIT_CREDENTIALS,),  # logons only qualify them (history, owner)
    requires_inventory=False,
    description=(
        "Explicit credentials (4648) for an established account on a computer where they were "
        "not supplied in the look-back window, with the account's owner not at that computer."
    ),
    params=(
        Param("lookback_days", 30, "How far back an earlier 4648 from the same computer counts."),
        Param("min_history_days", 7, "Days the account must have been in use before the onset."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("owner_hours", 12, "Owner's interactive logon at the source this close excuses it."),
        Param("evidence_hours", 24, "4648 events of the pair after the onset kept as evidence."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

_SENSITIVE = {"file-server", "database", "domain-controller"}


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    ex = e.filter(
        e.kind == EventKind.EXPLICIT_CREDENTIALS.value, e.user.notnull(), ~e.user.endswith("$")
    )
    ex = ex.mutate(src=ex.src_asset.fill_null(ex.src_host).fill_null(ex.src_ip))
    ex = ex.filter(ex.src.notnull())
    w = ibis.window(group_by=[ex.user, ex.src], order_by=[ex.ts, ex.event_id])
    ex = ex.mutate(prev_ts=ex.ts.lag().over(w))
    lookback = ibis.interval(days=int(p["lookback_days"]))
    on = ex.filter(ex.prev_ts.isnull() | (ex.ts > ex.prev_ts + lookback))
    if ctx.data_start is not None:
        on = on.filter(on.ts >= ctx.data_start + timedelta(days=int(p["warmup_days"])))
    on = on.filter(
        ~((on.account_kind == "service") & on.src_role.notnull() & (on.src_role != "workstation"))
    )
    on = on.select(
        o_user=on.user, o_src=on.src, onset=on.ts, onset_id=on.event_id, prev_ts=on.prev_ts,
        owner=on.owner,
    )  # fmt: skip

    used = e.filter(e.kind.isin([k.value for k in CREDENTIAL_KINDS]), e.outcome != "failure")
    first = used.group_by(f_user=used.user).aggregate(f_first=used.ts.min())
    on = on.inner_join(first, on.o_user == first.f_user).select(on, first.f_first)
    on = on.filter(on.f_first <= on.onset - ibis.interval(days=int(p["min_history_days"])))

    # The owner at that computer: an interactive logon of theirs there, close in time.
    inter = e.filter(
        e.kind == EventKind.LOGON.value, e.outcome != "failure", e.logon_type.isin([2, 10, 11])
    )
    inter = inter.select(
        i_user=inter.user, i_dst=inter.dst_asset.fill_null(inter.dst_host), i_ts=inter.ts
    )
    near = ibis.interval(hours=int(p["owner_hours"]))
    on = on.anti_join(
        inter,
        [
            on.owner == inter.i_user,
            on.o_src == inter.i_dst,
            inter.i_ts >= on.onset - near,
            inter.i_ts <= on.onset + near,
        ],
    )

    span = ibis.interval(hours=int(p["evidence_hours"]))
    j = on.inner_join(
        ex, [on.o_user == ex.user, on.o_src == ex.src, ex.ts >= on.onset, ex.ts < on.onset + span]
    )
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    return j.group_by(
        "o_user", "o_src", "onset", "onset_id", "prev_ts", "owner", "f_first"
    ).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        privileged=j.privileged.max(),
        account_kind=j.account_kind.max(),
        groups=j.groups.first(),
        src_site=j.src_site.max(),
        src_role=j.src_role.max(),
        processes=j.process.collect(distinct=True),
        dsts=dst.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, src = row["o_user"], row["o_src"]
    dsts, roles = vals(row, "dsts"), vals(row, "dst_roles")
    sensitive = sorted(_SENSITIVE & set(roles))
    privileged = bool(row["privileged"])
    score = 55.0 + (15 if privileged else 0) + (10 if sensitive else 0)
    score += min(10.0, float(len(dsts)))
    who = f"{user} ({', '.join(row['groups'] or []) or 'privileged'})" if privileged else user
    where = f"{src} ({row['src_role']}, {row['src_site']})" if row["src_site"] else src
    history = (
        f"not since {fmt_ts(row['prev_ts'])}"
        if row["prev_ts"] is not None
        else f"never before in the data (since {fmt_ts(ctx.data_start)})"
    )
    owner = (
        f"; its owner {row['owner']} did not log on at {src} within {ctx.params['owner_hours']} h"
        if row["owner"] and row["account_kind"] != "service"
        else ""
    )
    procs = vals(row, "processes")
    reason = (
        f"credentials of {who} were supplied explicitly (4648) on {where} at "
        f"{fmt_ts(row['onset'])}, {history}; the account is in use since "
        f"{fmt_ts(row['f_first'])[:10]}{owner}. In the next {ctx.params['evidence_hours']} h: "
        f"{row['n']} such event(s) toward {short_list(dsts) or 'unknown hosts'}"
        + (f" (including {', '.join(sensitive)})" if sensitive else "")
        + (f", by {short_list(procs, 2)}" if procs else "")
        + "."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user}'s credentials supplied on new computer {src}",
        severity="high" if score >= 75 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({src, *dsts})),
        sites=tuple(
            sorted({*([row["src_site"]] if row["src_site"] else []), *vals(row, "dst_sites")})
        ),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{src}|{row['onset_id']}",
        actors=(user, src),
        details={"onset_event": row["onset_id"], "previous_use": row["prev_ts"], "dst_hosts": dsts},
    )
