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

A slice of several days (``multi_day``) judges each of its days as that day's run would: the
account's previous NTLM logon and its Kerberos history may lie on the slice's earlier days; an
onset gives a row (``part_day``) on its day when it qualifies there (then one on the next day
with that day's logons), or else on the next day over its whole window when it qualifies then.
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
    version="3",
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
    multi_day=True,
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
    """The slice's Kerberos use per account and day (a logon, a TGT or a service ticket)."""
    e = _today(ctx, ctx.events)
    kerb = e.filter(
        e.outcome != "failure",
        (e.auth_package.upper() == "KERBEROS")
        | e.kind.isin([EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]),
        _person(e),
    )
    return kerb.group_by(k_user=kerb.user, k_day=kerb.ts.truncate("D")).aggregate(k_n=kerb.count())


def _fresh(ctx: DetectionContext) -> ibis.Table:
    """The slice's onsets of accounts with a Kerberos history before the onset's day."""
    p = ctx.params
    ntlm = _today(ctx, _ntlm(ctx))
    # the account's previous NTLM logon: an earlier one of the slice, else the state's last
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
    onsets = onsets.select(
        o_user=onsets.user,
        onset=onsets.ts,
        onset_id=onsets.event_id,
        prev_ntlm=onsets.prev_ts,
        o_day=onsets.ts.truncate("D"),
    )
    # The Kerberos baseline: the days before the onset's, that is the state before the slice
    # and the slice's days before the onset's.
    kd = _kerberos(ctx)
    j = onsets.left_join(kd, [onsets.o_user == kd.k_user, kd.k_day < onsets.o_day])
    slice_kb = j.group_by("o_user", "onset", "onset_id", "prev_ntlm").aggregate(
        s_first=j.k_day.min(), s_days=j.k_day.count(), s_n=j.k_n.sum()
    )
    kb = ctx.state["kerberos"]
    on = slice_kb.left_join(kb, slice_kb.o_user == kb.k_user)
    # (every state value lies before the slice; the engine's sum of int64 is wider: the
    # state's sums come back as the declared type)
    on = on.select(
        "o_user",
        "onset",
        "onset_id",
        "prev_ntlm",
        k_first=on.k_first.fill_null(on.s_first.cast(_TS)),
        k_days=(on.k_days.fill_null(0) + on.s_days).cast("int64"),
        k_n=(on.k_n.fill_null(0) + on.s_n.fill_null(0)).cast("int64"),
    )
    return on.filter(on.k_first <= on.onset - ibis.interval(days=int(p["min_kerberos_days"])))


def _judged(ctx: DetectionContext) -> ibis.Table:
    """Per onset judged in the slice: the rows reported (``report``) or followed on each day
    (``part_day``), with its NTLM logons in the window as the one-day run judges them.

    A one-day run judges an onset on its day over its window up to midnight, and reports it when
    it qualifies; one not reported is judged again on the next day over its whole window (the
    day before is context); a reported one is followed on the next day with that day's logons.
    Onsets of the slice's last day, and the state's, go on in the next slice as the state's."""
    assert ctx.slice_start is not None
    p, start = ctx.params, ctx.slice_start
    span = _span(ctx)
    old = ctx.state["onsets"]
    old = old.filter(old.onset < start, old.onset + span > start)
    no, yes = ibis.literal(False), ibis.literal(True)
    on = (
        _fresh(ctx).mutate(fresh=yes, was=no).union(old.select(*_ONSET, fresh=no, was=old.reported))
    )
    ntlm = _ntlm(ctx)
    j = on.inner_join(
        ntlm, [on.o_user == ntlm.user, ntlm.ts >= on.onset, ntlm.ts < on.onset + span]
    )
    j = j.mutate(e_day=j.ts.truncate("D"))
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    aggs = {
        "first_seen": j.ts.min(),
        "last_seen": j.ts.max(),
        "n": j.count(),
        "n_dsts": dst.nunique(),
        "privileged": j.privileged.max(),
        "groups": j.groups.first(),
        "evidence": earliest(j.event_id, j.ts, int(p["max_evidence"])),
        "dsts": dst.collect(distinct=True),
        "dst_roles": j.dst_role.collect(distinct=True),
        "dst_sites": j.dst_site.collect(distinct=True),
        "src_sites": j.src_site.collect(distinct=True),
        "srcs": j.src_asset.fill_null(j.src_host).collect(distinct=True),
        "src_ips": j.src_ip.collect(distinct=True),
    }
    min_hosts = int(p["min_hosts"])
    # each day's logons of the window, and the whole window's (the last day's part)
    daily = j.group_by(*_ONSET, "fresh", "was", "e_day").aggregate(**aggs)
    daily = daily.mutate(qual=daily.privileged | (daily.n_dsts >= min_hosts))
    whole = j.group_by(*_ONSET, "fresh", "was").aggregate(last_day=j.e_day.max(), **aggs)
    whole = whole.mutate(qual=whole.privileged | (whole.n_dsts >= min_hosts))
    # a fresh onset on its own day: reported there, or not
    own = daily.filter(daily.fresh, daily.e_day == daily.onset.truncate("D"))
    own = own.select(r_user=own.o_user, r_id=own.onset_id, r_own=own.qual)
    daily = daily.left_join(own, [daily.o_user == own.r_user, daily.onset_id == own.r_id])
    whole = whole.left_join(own, [whole.o_user == own.r_user, whole.onset_id == own.r_id])
    cols = [*_ONSET, *aggs]
    # reported on its day, then followed the next; the state's reported ones followed
    day_rows = daily.filter((daily.fresh & daily.r_own) | (~daily.fresh & daily.was))
    day_rows = day_rows.filter(day_rows.fresh | (day_rows.e_day >= start))
    day_rows = day_rows.select(
        *cols,
        part_day=day_rows.e_day,
        report=day_rows.fresh & (day_rows.e_day == day_rows.onset.truncate("D")),
    )
    # judged again over the whole window on the next day: a fresh one not reported on its
    # day (when the next day is in the slice: it has logons of the window), the state's
    late = whole.filter(
        whole.qual,
        (whole.fresh & ~whole.r_own & (whole.last_day > whole.onset.truncate("D")))
        | (~whole.fresh & ~whole.was),
    )
    late = late.select(
        *cols,
        part_day=ibis.ifelse(late.fresh, late.last_day, start.cast(late.last_day.type())),
        report=yes,
    )
    return day_rows.union(late)


def query(ctx: DetectionContext) -> ibis.Table:
    return _judged(ctx).drop("report")


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    ntlm = _today(ctx, _ntlm(ctx))
    kd = _kerberos(ctx)
    rep = _judged(ctx)
    rep = rep.filter(rep.report).select(*_ONSET, reported=ibis.literal(True))
    return {
        "ntlm_last": ntlm.group_by("user").aggregate(last_ts=ntlm.ts.max()),
        "kerberos": kd.group_by("k_user").aggregate(
            k_first=kd.k_day.min(), k_days=kd.count().cast("int64"), k_n=kd.k_n.sum().cast("int64")
        ),
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
