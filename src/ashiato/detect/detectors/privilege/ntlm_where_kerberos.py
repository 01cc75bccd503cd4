"""NTLM from an account that authenticates with Kerberos: a replayed hash (pass-the-hash).

In a domain, a person's account authenticates with Kerberos; NTLM appears when a host is named by
IP address, for legacy devices, and when a hash is replayed, because an NT hash alone cannot get a
ticket the ordinary way. The onset is an account's first successful NTLM network logon (type 3,
or no type: 4776 and Zeek ntlm.log) after at least ``lookback_days`` without one, when that
account has authenticated with Kerberos for at least ``min_kerberos_days`` before it (so brand-new
accounts and new offices have no baseline to break). Accounts that use NTLM habitually are never
onsets; machine accounts and anonymous logons are left out. Precision comes from who and how
much: a privileged account's onset is a finding on its own, anyone else's only when the NTLM
logons of the next ``evidence_hours`` reach ``min_hosts`` hosts (a hash sprayed across an office).

Judged one UTC day at a time against its state: each account's last NTLM logon (``ntlm_last``),
its Kerberos history before the day (``kerberos``: first day, days, events) and the onsets
(``onsets``). An onset is a finding on its own day when it already qualifies there; one whose
hosts are reached only after midnight is judged the next day over its whole window
(``context_days=1`` shows the onset's day again, so ``evidence_hours`` is at most 24). A
reported onset is followed into the next day for the rest of its window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

_TS = "timestamp('UTC', 6)"

SPEC = DetectorSpec(
    id="privilege.ntlm_where_kerberos",
    title="NTLM logon by an account that uses Kerberos",
    version="2",
    severity="high",
    techniques=("T1550.002",),
    needs=(EventKind.LOGON,),  # the NTLM logons; the Kerberos baseline only qualifies them
    requires_inventory=False,
    description=(
        "An account with an established Kerberos history, and no NTLM in the look-back window, "
        "makes NTLM network logons: a privileged account, or any account reaching many hosts."
    ),
    params=(
        Param("lookback_days", 30, "How far back an earlier NTLM logon makes NTLM habitual."),
        Param("min_kerberos_days", 7, "Days of Kerberos use the account needs before the onset."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("evidence_hours", 24, "NTLM logons after the onset kept as evidence (at most 24)."),
        Param("min_hosts", 5, "Hosts an unprivileged account's NTLM must reach to be a finding."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "ntlm_last",
            keys={"user": "string"},
            values={"last_ts": _TS},
            combine={"last_ts": "max"},
            description="Each account's last successful NTLM network logon.",
        ),
        StateTable(
            "kerberos",
            keys={"k_user": "string"},
            values={"k_first": _TS, "k_days": "int64", "k_n": "int64"},
            combine={"k_first": "min", "k_days": "sum", "k_n": "sum"},
            description="Each account's Kerberos use: its first day, days with any, events.",
        ),
        StateTable(
            "onsets",
            keys={"o_user": "string", "onset_id": "string"},
            values={
                "onset": _TS,
                "prev_ntlm": _TS,
                "k_first": _TS,
                "k_days": "int64",
                "k_n": "int64",
                "reported": "boolean",
            },
            combine={
                "onset": "min",
                "prev_ntlm": "min",
                "k_first": "min",
                "k_days": "min",
                "k_n": "min",
                "reported": "bool_or",
            },
            description=(
                "Onsets (an established Kerberos account's first NTLM after the look-back); "
                "``reported`` once a finding: followed for the rest of ``evidence_hours``."
            ),
        ),
    ),
    context_days=1,
)

_SENSITIVE = {"file-server", "database", "domain-controller"}
_ONSET = ("o_user", "onset", "onset_id", "prev_ntlm", "k_first", "k_days", "k_n")


def _person(e: ibis.Table) -> ibis.ir.BooleanValue:
    """Named accounts only: no machine accounts (name$) and no anonymous logons."""
    name = e.user.lower()
    return e.user.notnull() & ~name.endswith("$") & ~name.startswith("anonymous")


def _span(ctx: DetectionContext) -> ibis.IntervalScalar:
    hours = int(ctx.params["evidence_hours"])
    if not 0 < hours <= 24:
        raise ValueError(f"{SPEC.id}: evidence_hours must lie between 1 and 24, not {hours}")
    return ibis.interval(hours=hours)


def _today(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    assert ctx.slice_start is not None
    return t.filter(t.ts >= ctx.slice_start)


def _ntlm(ctx: DetectionContext) -> ibis.Table:
    """The visible (the judged day and the day before) successful NTLM network logons."""
    e = ctx.events
    return e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.auth_package.upper().startswith("NTLM"),
        e.logon_type.isnull() | (e.logon_type == 3),
        _person(e),
    )


def _kerberos(ctx: DetectionContext) -> ibis.Table:
    """The judged day's Kerberos use per account (a logon, a TGT or a service ticket)."""
    e = _today(ctx, ctx.events)
    kerb = e.filter(
        e.outcome != "failure",
        (e.auth_package.upper() == "KERBEROS")
        | e.kind.isin([EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]),
        _person(e),
    )
    return kerb.group_by(k_user=kerb.user).aggregate(
        k_first=kerb.ts.truncate("D").min(), k_days=ibis.literal(1, "int64"), k_n=kerb.count()
    )


def _fresh(ctx: DetectionContext) -> ibis.Table:
    """The judged day's onsets of accounts with a Kerberos history before the day."""
    p = ctx.params
    ntlm = _today(ctx, _ntlm(ctx))
    w = ibis.window(group_by=ntlm.user, order_by=[ntlm.ts, ntlm.event_id])
    ntlm = ntlm.mutate(prev_in=ntlm.ts.lag().over(w))
    last = ctx.state["ntlm_last"]
    last = last.select(l_user=last.user, l_ts=last.last_ts)
    ntlm = ntlm.left_join(last, ntlm.user == last.l_user)
    ntlm = ntlm.mutate(prev_ts=ntlm.prev_in.fill_null(ntlm.l_ts))
    lookback = ibis.interval(days=int(p["lookback_days"]))
    onsets = ntlm.filter(ntlm.prev_ts.isnull() | (ntlm.ts > ntlm.prev_ts + lookback))
    if ctx.data_start is not None:
        onsets = onsets.filter(onsets.ts >= warmup_end(ctx, int(p["warmup_days"])))
    # The Kerberos baseline: the days before the onset's, that is the state before the day.
    kb = ctx.state["kerberos"]
    # (the engine's sum of int64 is wider: the state's sums come back as the declared type)
    kb = kb.mutate(k_days=kb.k_days.cast("int64"), k_n=kb.k_n.cast("int64"))
    onsets = onsets.inner_join(kb, onsets.user == kb.k_user)
    onsets = onsets.filter(
        onsets.k_first <= onsets.ts - ibis.interval(days=int(p["min_kerberos_days"]))
    )
    return onsets.select(
        o_user=onsets.user,
        onset=onsets.ts,
        onset_id=onsets.event_id,
        prev_ntlm=onsets.prev_ts,
        k_first=onsets.k_first,
        k_days=onsets.k_days,
        k_n=onsets.k_n,
    )


def _judged(ctx: DetectionContext) -> ibis.Table:
    """Per onset with evidence today: its NTLM logons in the window, and whether it is reported
    today (``report``: it qualifies) or went on from an earlier day's report (``followed``)."""
    assert ctx.slice_start is not None
    p, start = ctx.params, ctx.slice_start
    span = _span(ctx)
    old = ctx.state["onsets"]
    old = old.filter(old.onset < start, old.onset + span > start)
    # today's onsets and yesterday's unreported ones run into today (judged over their whole
    # window, the day before included); yesterday's reported ones go on with today's logons
    on = (
        _fresh(ctx)
        .mutate(followed=ibis.literal(False))
        .union(old.filter(~old.reported).select(*_ONSET, followed=ibis.literal(False)))
        .union(old.filter(old.reported).select(*_ONSET, followed=ibis.literal(True)))
    )
    ntlm = _ntlm(ctx)
    j = on.inner_join(
        ntlm, [on.o_user == ntlm.user, ntlm.ts >= on.onset, ntlm.ts < on.onset + span]
    )
    j = j.filter(~j.followed | (j.ts >= start))
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    out = j.group_by(*_ONSET, "followed").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        n_dsts=dst.nunique(),
        privileged=j.privileged.max(),
        groups=j.groups.first(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
        dsts=dst.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        src_sites=j.src_site.collect(distinct=True),
        srcs=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
    )
    return out.mutate(report=~out.followed & (out.privileged | (out.n_dsts >= int(p["min_hosts"]))))


def query(ctx: DetectionContext) -> ibis.Table:
    out = _judged(ctx)
    return out.filter(out.report | out.followed).drop("report", "followed")


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    ntlm = _today(ctx, _ntlm(ctx))
    rep = _judged(ctx)
    rep = rep.filter(rep.report).select(*_ONSET, reported=ibis.literal(True))
    return {
        "ntlm_last": ntlm.group_by("user").aggregate(last_ts=ntlm.ts.max()),
        "kerberos": _kerberos(ctx),
        "onsets": _fresh(ctx).mutate(reported=ibis.literal(False)).union(rep),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["o_user"]
    dsts, roles = vals(row, "dsts"), vals(row, "dst_roles")
    srcs, ips = vals(row, "srcs"), vals(row, "src_ips")
    sensitive = sorted(_SENSITIVE & set(roles))
    privileged = bool(row["privileged"])
    score = 55.0 + (15 if privileged else 0) + (10 if sensitive else 0)
    score += min(15.0, float(row["n_dsts"]))
    who = f"{user} ({', '.join(row['groups'] or []) or 'privileged'})" if privileged else user
    history = (
        f"no NTLM logon since {fmt_ts(row['prev_ntlm'])}"
        if row["prev_ntlm"] is not None
        else f"no NTLM logon before in the data (since {fmt_ts(ctx.data_start)})"
    )
    reason = (
        f"{who} authenticated with NTLM at {fmt_ts(row['onset'])} from "
        f"{short_list([*srcs, *(i for i in ips if i not in srcs)]) or 'an unknown source'}; "
        f"it had used Kerberos on {row['k_days']} day(s) since {fmt_ts(row['k_first'])[:10]} "
        f"({row['k_n']} Kerberos events) and {history}. In the next "
        f"{ctx.params['evidence_hours']} h: {row['n']} NTLM logon(s) to {row['n_dsts']} host(s): "
        f"{short_list(dsts) or 'unknown hosts'}"
        + (f" (including {', '.join(sensitive)})" if sensitive else "")
        + ". A replayed password hash authenticates with NTLM only."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} switched from Kerberos to NTLM",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts})),
        sites=tuple(sorted({*vals(row, "src_sites"), *vals(row, "dst_sites")})),
        ips=tuple(ips),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['onset_id']}",
        actors=(user, *srcs, *ips),
        details={
            "onset_event": row["onset_id"],
            "previous_ntlm": row["prev_ntlm"],
            "kerberos_days": row["k_days"],
            "kerberos_events": row["k_n"],
            "dst_hosts": dsts,
            "dst_roles": roles,
            "privileged": privileged,
        },
    )
