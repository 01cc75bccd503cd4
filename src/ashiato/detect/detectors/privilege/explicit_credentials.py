"""Explicit credentials (4648) for an account on a computer where it was never supplied before.

``runas``, ``net use /user:`` and most lateral-movement tools make Windows log 4648 on the
computer where the credentials were typed or replayed. Admins supply their admin account from
the same few desks; a stolen one is supplied from wherever the intruder sits. The onset is the
first 4648 for an (account, source computer) pair after ``lookback_days`` without one, once the
account has been in use for ``min_history_days`` (new accounts and new offices have no history).
Left out: a service account's credentials on a server (scheduled tasks and agents run as it,
so the 4648's subject is the computer or the service itself) unless another account's session
supplied them (``subject_user``: a person typing the service's password, as an intruder who
found it does), and a source computer at which the account's owner (inventory) logged on
interactively within ``owner_hours`` of the onset: the owner at a colleague's desk on a
business trip. Someone else's credentials score higher (+15): a service account's supplied in a
person's session, or an owned account's supplied in the session of anyone but its owner.

Judged one UTC day at a time against its state: each pair's last 4648 (``pair_last``), each
account's first use (``user_first``), each account's last interactive logon per computer
(``owner_last``: the owner's presence before the day) and the onsets (``onsets``). The owner may
log on after the onset too, so an onset whose ``owner_hours`` reach past midnight is judged on the
next day (``context_days=1`` shows it the onset's day again, so ``owner_hours`` is at most 24);
a judged onset is then followed into later days for ``evidence_hours``. (Should the store hold
no event at all on the day after, the onset is judged on the next day it holds, without the
evidence of its own day.)

A slice of several days (``multi_day``) judges each of its days as that day's run would: a pair's
previous 4648 and an account's first use may lie on the slice's earlier days, an onset whose
hours run past midnight is judged on the slice's next day (or, on its last day, in the next
slice), the owner's logons count up to the end of the day it is judged on, and a finding gives
one row (``part_day``) for the day it is judged and one for each later day it is followed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

_TS = "timestamp('UTC', 6)"

SPEC = DetectorSpec(
    id="privilege.explicit_credentials",
    title="Account's credentials supplied explicitly on a new computer",
    version="6",
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
        Param(
            "owner_hours",
            12,
            "Owner's interactive logon at the source this close excuses it (at most 24).",
        ),
        Param("evidence_hours", 24, "4648 events of the pair after the onset kept as evidence."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "pair_last",
            keys={"user": "string", "src": "string"},
            values={"last_ts": _TS},
            combine={"last_ts": "max"},
            description="Each (account, source computer) pair's last explicit-credential use.",
        ),
        StateTable(
            "user_first",
            keys={"user": "string"},
            values={"first_ts": _TS},
            combine={"first_ts": "min"},
            description="Each account's first successful credential use (its history begins).",
        ),
        StateTable(
            "owner_last",
            keys={"i_user": "string", "i_dst": "string"},
            values={"last_ts": _TS},
            combine={"last_ts": "max"},
            description="Each account's last interactive logon at each computer.",
        ),
        StateTable(
            "onsets",
            keys={"o_user": "string", "o_src": "string", "onset_id": "string"},
            values={
                "onset": _TS,
                "prev_ts": _TS,
                "owner": "string",
                "f_first": _TS,
                "ok": "boolean",
                "judged": "boolean",
            },
            combine={
                "onset": "min",
                "prev_ts": "min",
                "owner": "min",
                "f_first": "min",
                "ok": "bool_or",
                "judged": "bool_or",
            },
            description=(
                "Onsets (first 4648 of a pair after the look-back); ``judged`` once the owner's "
                "hours are over, ``ok`` when not excused: followed for ``evidence_hours``."
            ),
        ),
    ),
    context_days=1,
    multi_day=True,
)

_SENSITIVE = {"file-server", "database", "domain-controller"}
_BUILT_IN = ("system", "local service", "network service", "anonymous logon")
_ONSET = ("o_user", "o_src", "onset", "onset_id", "prev_ts", "owner", "f_first")


def _near(ctx: DetectionContext) -> ibis.IntervalScalar:
    hours = int(ctx.params["owner_hours"])
    if not 0 <= hours <= 24:
        raise ValueError(f"{SPEC.id}: owner_hours must lie between 0 and 24, not {hours}")
    return ibis.interval(hours=hours)


def _explicit(ctx: DetectionContext) -> ibis.Table:
    """Every visible 4648 (the judged day and the day before) with its source computer."""
    e = ctx.events
    ex = e.filter(
        e.kind == EventKind.EXPLICIT_CREDENTIALS.value, e.user.notnull(), ~e.user.endswith("$")
    )
    ex = ex.mutate(src=ex.src_asset.fill_null(ex.src_host).fill_null(ex.src_ip))
    return ex.filter(ex.src.notnull())


def _someone_else(ex: ibis.Table) -> ibis.BooleanColumn:
    """The 4648 was made in another account's logon session: a named account that is neither
    the target nor a computer or built-in one (a service's own tasks run as those)."""
    s = ex.subject_user
    return (s.notnull() & (s != ex.user) & ~s.endswith("$") & ~s.isin(_BUILT_IN)).fill_null(False)


def _today(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    assert ctx.slice_start is not None
    return t.filter(t.ts >= ctx.slice_start)


def _interactive(ctx: DetectionContext) -> ibis.Table:
    """The slice's interactive logons: where each account sat at a keyboard."""
    e = _today(ctx, ctx.events)
    inter = e.filter(
        e.kind == EventKind.LOGON.value, e.outcome != "failure", e.logon_type.isin([2, 10, 11])
    )
    inter = inter.select(
        i_user=inter.user, i_dst=inter.dst_asset.fill_null(inter.dst_host), i_ts=inter.ts
    )
    return inter.filter(inter.i_user.notnull(), inter.i_dst.notnull())


def _used(ctx: DetectionContext) -> ibis.Table:
    e = _today(ctx, ctx.events)
    return e.filter(e.kind.isin([k.value for k in CREDENTIAL_KINDS]), e.outcome != "failure")


def _fresh(ctx: DetectionContext) -> ibis.Table:
    """The slice's onsets of established accounts (the owner not yet asked about)."""
    p = ctx.params
    ex = _today(ctx, _explicit(ctx))
    # the pair's previous 4648: an earlier one of the slice, else the state's last
    w = ibis.window(group_by=[ex.user, ex.src], order_by=[ex.ts, ex.event_id])
    ex = ex.mutate(prev_in=ex.ts.lag().over(w))
    last = ctx.state["pair_last"]
    last = last.select(l_user=last.user, l_src=last.src, l_ts=last.last_ts)
    ex = ex.left_join(last, [ex.user == last.l_user, ex.src == last.l_src])
    ex = ex.mutate(prev_ts=ex.prev_in.fill_null(ex.l_ts))
    lookback = ibis.interval(days=int(p["lookback_days"]))
    on = ex.filter(ex.prev_ts.isnull() | (ex.ts > ex.prev_ts + lookback))
    if ctx.data_start is not None:
        on = on.filter(on.ts >= warmup_end(ctx, int(p["warmup_days"])))
    on = on.filter(
        ~(
            (on.account_kind == "service")
            & on.src_role.notnull()
            & (on.src_role != "workstation")
            & ~_someone_else(on)
        )
    )
    on = on.select(
        o_user=on.user, o_src=on.src, onset=on.ts, onset_id=on.event_id, prev_ts=on.prev_ts,
        owner=on.owner, o_day=on.ts.truncate("D"),
    )  # fmt: skip
    # The account's history: its first use lies before the onset's day (the state's, else the
    # slice's earlier days'), days before the onset.
    used = _used(ctx)
    ud = used.group_by(u_user=used.user, u_day=used.ts.truncate("D")).aggregate(
        u_first=used.ts.min()
    )
    j = on.left_join(ud, [on.o_user == ud.u_user, ud.u_day < on.o_day])
    on = j.group_by(*_ONSET[:-1]).aggregate(s_first=j.u_first.min())
    first = ctx.state["user_first"]
    on = on.left_join(first, on.o_user == first.user)
    # (every state value lies before the slice: the state's first use, if any, is the first)
    on = on.mutate(f_first=on.first_ts.fill_null(on.s_first))
    on = on.filter(on.f_first <= on.onset - ibis.interval(days=int(p["min_history_days"])))
    return on.select(*_ONSET)


def _due(ctx: DetectionContext, fresh: ibis.Table) -> ibis.Table:
    """The onsets judged in the slice, with the day each is judged on (``j_day``): an onset
    whose ``owner_hours`` end before midnight on its own day, one whose hours run past it on
    the next day the store holds (left to the next slice when that is not in this one), and
    the state's not judged yet on the slice's first day."""
    assert ctx.slice_start is not None
    start = ctx.slice_start
    one = ibis.interval(days=1)
    day = fresh.onset.truncate("D")
    fresh = fresh.mutate(o_day=day, soon=fresh.onset + _near(ctx) < day + one)
    e = _today(ctx, ctx.events)
    days = e.select(d_day=e.ts.truncate("D")).distinct()
    j = fresh.left_join(days, [~fresh.soon, days.d_day > fresh.o_day])
    due = j.group_by(*_ONSET, "o_day", "soon").aggregate(next_day=j.d_day.min())
    due = due.mutate(j_day=ibis.ifelse(due.soon, due.o_day, due.next_day))
    due = due.filter(due.j_day.notnull()).select(*_ONSET, "j_day")
    old = ctx.state["onsets"]
    pending = old.filter(~old.judged, old.onset < start)
    return due.union(pending.select(*_ONSET, j_day=start.cast(due.j_day.type())))


def _cleared(ctx: DetectionContext, due: ibis.Table) -> ibis.Table:
    """The onsets judged in the slice that the owner's presence does not excuse."""
    near = _near(ctx)
    # The owner at that computer: an interactive logon of theirs there, close in time (before
    # the slice from the state: any it holds lies within the hours of a pending onset)...
    seen = ctx.state["owner_last"]
    due = due.anti_join(
        seen,
        [due.owner == seen.i_user, due.o_src == seen.i_dst, seen.last_ts >= due.onset - near],
    )
    # ... or in the slice up to the end of the day the onset is judged on
    inter = _interactive(ctx)
    return due.anti_join(
        inter,
        [
            due.owner == inter.i_user,
            due.o_src == inter.i_dst,
            inter.i_ts >= due.onset - near,
            inter.i_ts <= due.onset + near,
            inter.i_ts < due.j_day + ibis.interval(days=1),
        ],
    )


def query(ctx: DetectionContext) -> ibis.Table:
    assert ctx.slice_start is not None
    p, start = ctx.params, ctx.slice_start
    span = ibis.interval(hours=int(p["evidence_hours"]))
    one = ibis.interval(days=1)
    judged = _cleared(ctx, _due(ctx, _fresh(ctx)))
    # Onsets judged before the slice whose evidence window reaches into it go on here.
    old = ctx.state["onsets"]
    old = old.filter(old.ok, old.onset + span > start)
    on = judged.mutate(followed=ibis.literal(False)).union(
        old.select(*_ONSET, j_day=ibis.null(judged.j_day.type()), followed=ibis.literal(True))
    )
    ex = _explicit(ctx)
    j = on.inner_join(
        ex,
        [on.o_user == ex.user, on.o_src == ex.src, ex.ts >= on.onset, ex.ts < on.onset + span],
    )
    # judged on j_day: its evidence from the onset on as that day's run sees it (the day before
    # included), then followed on each later day with that day's events
    e_day = j.ts.truncate("D")
    j = j.filter(
        ibis.ifelse(j.followed, j.ts >= start, j.ts >= j.j_day - one),
    )
    j = j.mutate(
        part_day=ibis.ifelse(j.followed | (e_day > j.j_day), e_day, j.j_day),
    )
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    return j.group_by(*_ONSET, "part_day").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        privileged=j.privileged.max(),
        account_kind=j.account_kind.max(),
        groups=j.groups.first(),
        src_site=j.src_site.max(),
        src_role=j.src_role.max(),
        processes=j.process.collect(distinct=True),
        subjects=j.subject_user.collect(distinct=True),
        dsts=dst.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    fresh = _fresh(ctx)
    due = _due(ctx, fresh)
    no, yes = ibis.literal(False), ibis.literal(True)
    ex = _today(ctx, _explicit(ctx))
    used = _used(ctx)
    inter = _interactive(ctx)
    return {
        "pair_last": ex.group_by("user", "src").aggregate(last_ts=ex.ts.max()),
        "user_first": used.group_by("user").aggregate(first_ts=used.ts.min()),
        "owner_last": inter.group_by("i_user", "i_dst").aggregate(last_ts=inter.i_ts.max()),
        # every onset of the slice; those judged in it; those not excused (ok)
        "onsets": fresh.mutate(ok=no, judged=no)
        .union(due.select(*_ONSET, ok=no, judged=yes))
        .union(_cleared(ctx, due).select(*_ONSET, ok=yes, judged=yes)),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, src = row["o_user"], row["o_src"]
    dsts, roles = vals(row, "dsts"), vals(row, "dst_roles")
    sensitive = sorted(_SENSITIVE & set(roles))
    privileged = bool(row["privileged"])
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
    others = [
        a for a in vals(row, "subjects") if a != user and not a.endswith("$") and a not in _BUILT_IN
    ]
    # Someone else's credentials: a service account's typed in a person's session, or an account
    # with an owner supplied in another person's (an admin's own runas is its owner's session).
    service, owner_name = row["account_kind"] == "service", row["owner"]
    stranger = bool(others) and (
        service or (bool(owner_name) and any(a != owner_name for a in others))
    )
    score = 55.0 + (15 if privileged else 0) + (10 if sensitive else 0) + (15 if stranger else 0)
    score += min(10.0, float(len(dsts)))
    session = ""
    if others:
        session = f", in the logon session of {short_list(others, 3)}"
        if stranger:
            session += (
                " (a service account's credentials typed in a person's session)"
                if service
                else f", not its owner {owner_name}"
            )
    reason = (
        f"credentials of {who} were supplied explicitly (4648) on {where} at "
        f"{fmt_ts(row['onset'])}, {history}; the account is in use since "
        f"{fmt_ts(row['f_first'])[:10]}{owner}. In the next {ctx.params['evidence_hours']} h: "
        f"{row['n']} such event(s) toward {short_list(dsts) or 'unknown hosts'}"
        + (f" (including {', '.join(sensitive)})" if sensitive else "")
        + (f", by {short_list(procs, 2)}" if procs else "")
        + session
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
        details={
            "onset_event": row["onset_id"],
            "previous_use": row["prev_ts"],
            "dst_hosts": dsts,
            "supplied_by": others,
        },
    )
