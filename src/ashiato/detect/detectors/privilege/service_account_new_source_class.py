"""Service account logs on from a class of source it has never come from: a desk, not its servers.

A service account's logons come from a few machines of one kind: the application, backup or
monitoring servers that run its jobs. A password read from a configuration file gets used from
wherever the reader sits, usually an office workstation. So the signal is the account's own
history, not the segmentation policy (which may well allow the path): the first day, after the
warm-up, on which a service account (``account_kind`` from the inventory) logs on successfully,
with any logon type (network type 3 included), from a source whose class it was never seen
coming from before that day, and each later day it comes back from a source it used on that
first day (the same desk, once a week). Classes are ``workstation`` and ``server`` (every server
role), or each inventory role when ``by_role`` is set. Sources the inventory cannot place are left
out, as are accounts with no logon before that day (nothing to compare with).

Judged in slices of days against its state, each day as if alone (it knows the state and the
slice's earlier days): each (account, class)'s first day (``class_first``), the sources of that
first day (``origins``) and the day each (account, source role) was first seen (``role_first``:
the roles it came from before).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind
from ashiato.inventory.model import SERVER_ROLES

_TS = "timestamp('UTC', 6)"

SPEC = DetectorSpec(
    id="privilege.service_account_new_source_class",
    title="Service account logs on from a new class of source",
    version="4",
    severity="high",
    techniques=("T1078.002", "T1021"),
    needs=(EventKind.LOGON,),
    requires_inventory=True,
    description=(
        "A service account logs on from a class of source (a workstation, where it always came "
        "from servers) it was never seen coming from before, whatever the policy allows."
    ),
    params=(
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param(
            "by_role",
            False,
            "Classes are the inventory roles (server, file-server, ...) rather than "
            "workstation vs. server.",
        ),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "class_first",
            keys={"f_user": "string", "f_cls": "string"},
            values={"first_day": _TS},
            combine={"first_day": "min"},
            description="The first day each service account came from each class of source.",
        ),
        StateTable(
            "origins",
            keys={"o_user": "string", "o_cls": "string", "o_src": "string"},
            values={"o_day": _TS},
            combine={"o_day": "min"},
            description="The sources of each (service account, class)'s first day.",
        ),
        StateTable(
            "role_first",
            keys={"r_user": "string", "r_role": "string"},
            values={"since": _TS},
            combine={"since": "min"},
            description="The first day each service account came from each source role.",
        ),
    ),
    multi_day=True,
)

_SENSITIVE = {"file-server", "database", "domain-controller"}


def _source_class(role: ir.StringValue, by_role: bool) -> ir.StringValue:
    if by_role:
        return role
    servers = sorted(r.value for r in SERVER_ROLES)
    return ibis.cases(
        (role == "workstation", "workstation"), (role.isin(servers), "server"), else_=None
    )


def _logons(ctx: DetectionContext) -> ibis.Table:
    """The slice's successful service-account logons from a source of a known class."""
    e = ctx.events
    t = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.account_kind == "service",
        e.src_role.notnull(),
    )
    t = t.mutate(cls=_source_class(t.src_role, bool(ctx.params["by_role"])), day=t.ts.truncate("D"))
    t = t.filter(t.cls.notnull())
    return t.mutate(src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip))


def _firsts(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """``t`` with each (account, class)'s ``first_day`` as the slice's days know it (the
    state's, else its first day in the slice: a day on or before that first day sees no
    earlier one) and ``new``: that first day lies in the slice."""
    seen = ctx.state["class_first"]
    sl = t.group_by(s_user=t.user, s_cls=t.cls).aggregate(s_first=t.day.min())
    sl = sl.left_join(seen, [sl.s_user == seen.f_user, sl.s_cls == seen.f_cls]).select(
        "s_user",
        "s_cls",
        s_first_day=seen.first_day.cast(sl.s_first.type()).fill_null(sl.s_first),
        s_new=seen.first_day.isnull(),
    )
    return t.inner_join(sl, [t.user == sl.s_user, t.cls == sl.s_cls]).select(
        t, first_day=sl.s_first_day, new=sl.s_new
    )


def _first_sources(t: ibis.Table) -> ibis.Table:
    """The sources of the first days that lie in the slice (``t`` from ``_firsts``)."""
    f = t.filter(t.new, t.day == t.first_day, t.src.notnull())
    return f.group_by(o_user=f.user, o_cls=f.cls, o_src=f.src).aggregate(o_day=f.day.min())


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    t = _firsts(ctx, _logons(ctx))
    # The first day, and every later day the account comes back from a source it used on that
    # first day: a password read from a file is used again from the same desk (once a week,
    # in issue 13's svc-from-workstation), and each use names what it reached. A day of the
    # slice knows the state and the slice's earlier days: a first day in the slice names the
    # sources a later day of the slice comes back from.
    first = t.filter(t.day == t.first_day)
    origin = ctx.state["origins"].select("o_user", "o_cls", "o_src")
    origin = origin.union(_first_sources(t).select("o_user", "o_cls", "o_src"))
    later = t.filter(t.day > t.first_day)
    again = later.semi_join(
        origin, [later.user == origin.o_user, later.cls == origin.o_cls, later.src == origin.o_src]
    )
    novel = first.union(again)
    start = warmup_end(ctx, int(p["warmup_days"]))
    if start is not None:
        novel = novel.filter(novel.first_day >= start)
    hits = novel.group_by("user", "cls", "day").aggregate(
        first_day=novel.first_day.min(),
        first_seen=novel.ts.min(),
        last_seen=novel.ts.max(),
        n=novel.count(),
        privileged=novel.privileged.any(),
        types=novel.logon_type.collect(distinct=True),
        srcs=novel.src.collect(distinct=True),
        src_roles=novel.src_role.collect(distinct=True),
        dsts=novel.dst_asset.fill_null(novel.dst_host).collect(distinct=True),
        dst_roles=novel.dst_role.collect(distinct=True),
        sites=novel.src_site.collect(distinct=True),
        src_ips=novel.src_ip.collect(distinct=True),
        evidence=earliest(novel.event_id, novel.ts, int(p["max_evidence"])),
    )
    # The account's own past: the source roles it came from before its first day of this class
    # (none: no finding), from the state and the slice's days.
    past = ctx.state["role_first"]
    past = past.select("r_user", "r_role", since=past.since.cast(hits.first_day.type()))
    past = past.union(_roles(_logons(ctx)).mutate(since=lambda r: r.since.cast(past.since.type())))
    before = hits.inner_join(past, [hits.user == past.r_user, past.since < hits.first_day])
    prior = before.group_by(before.user, before.cls, before.day).aggregate(
        prior_roles=before.r_role.collect(distinct=True)
    )
    out = hits.inner_join(
        prior, [hits.user == prior.user, hits.cls == prior.cls, hits.day == prior.day]
    ).select(hits, prior.prior_roles)
    return out.mutate(part_day=out.day)


def _roles(t: ibis.Table) -> ibis.Table:
    return t.group_by(r_user=t.user, r_role=t.src_role).aggregate(since=t.day.min())


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    t = _logons(ctx)
    return {
        "class_first": t.group_by(f_user=t.user, f_cls=t.cls).aggregate(first_day=t.day.min()),
        "origins": _first_sources(_firsts(ctx, t)),
        "role_first": _roles(t),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, cls = row["user"], row["cls"]
    srcs, dsts = vals(row, "srcs"), vals(row, "dsts")
    prior = sorted(vals(row, "prior_roles"))
    desk = cls == "workstation"
    sensitive = bool(_SENSITIVE & set(vals(row, "dst_roles")))
    score = (
        70.0
        + (10 if desk else 0)
        + (5 if row["privileged"] else 0)
        + (5 if sensitive else 0)
        + min(5, len(srcs) - 1)
    )
    types = ", ".join(str(x) for x in sorted(vals(row, "types"))) or "unknown"
    again = row["first_day"] < row["day"]
    novelty = (
        f"again from a source of {row['first_day'].date().isoformat()}, the first day it came "
        f"from a {cls}, a class of source it had never come from: before then only from "
        if again
        else "a class of source it had never come from: before that day only from "
    )
    reason = (
        f"service account {user} logged on from a {cls} ({short_list(srcs)}) on "
        f"{fmt_ts(row['first_seen'])[:10]}, {novelty}"
        f"{', '.join(prior)}. {row['n']} logon(s) (type {types}) to "
        f"{short_list(dsts) or 'unknown hosts'}, {fmt_ts(row['first_seen'])[11:]} to "
        f"{fmt_ts(row['last_seen'])[11:]}."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"service account {user} used from a {cls}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts})),
        sites=tuple(vals(row, "sites")),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{cls}|{row['day'].date().isoformat()}",
        actors=(user, *srcs),
        details={"source_class": cls, "prior_roles": prior, "source_roles": vals(row, "src_roles")},
    )
