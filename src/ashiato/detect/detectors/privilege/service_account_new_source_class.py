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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind
from ashiato.inventory.model import SERVER_ROLES

SPEC = DetectorSpec(
    id="privilege.service_account_new_source_class",
    title="Service account logs on from a new class of source",
    version="2",
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
)

_SENSITIVE = {"file-server", "database", "domain-controller"}


def _source_class(role: ir.StringValue, by_role: bool) -> ir.StringValue:
    if by_role:
        return role
    servers = sorted(r.value for r in SERVER_ROLES)
    return ibis.cases(
        (role == "workstation", "workstation"), (role.isin(servers), "server"), else_=None
    )


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    t = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.account_kind == "service",
        e.src_role.notnull(),
    )
    t = t.mutate(cls=_source_class(t.src_role, bool(p["by_role"])), day=t.ts.truncate("D"))
    t = t.filter(t.cls.notnull())
    first = t.group_by("user", "cls").aggregate(first_day=t.day.min())
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    if start is not None:
        first = first.filter(first.first_day >= start)
    t = t.mutate(src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip))
    t1 = t.inner_join(first, [t.user == first.user, t.cls == first.cls]).select(t, first.first_day)
    # The first day, and every later day the account comes back from a source it used on that
    # first day: a password read from a file is used again from the same desk (once a week,
    # in issue 13's svc-from-workstation), and each use names what it reached.
    origin = t1.filter(t1.day == t1.first_day).select(o_user="user", o_cls="cls", o_src="src")
    origin = origin.distinct()
    # (every first-day source is an origin, so this holds the whole first day as well)
    novel = t1.inner_join(
        origin, [t1.user == origin.o_user, t1.cls == origin.o_cls, t1.src == origin.o_src]
    ).select(t1)
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
    # (none: no finding).
    past = t.group_by(t.user, t.src_role).aggregate(since=t.day.min())
    before = hits.inner_join(past, [hits.user == past.user, past.since < hits.first_day])
    prior = before.group_by(before.user, before.cls, before.day).aggregate(
        prior_roles=before.src_role.collect(distinct=True)
    )
    return hits.inner_join(
        prior, [hits.user == prior.user, hits.cls == prior.cls, hits.day == prior.day]
    ).select(hits, prior.prior_roles)


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
