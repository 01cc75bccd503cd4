"""An account that only ever logged on over the network now sits at a server's console or RDP.

Most accounts' logons on servers are network logons (type 3: shares, RPC, web) or, for service
accounts, service and batch logons. A person who then opens an interactive (2), RDP (10) or
cached interactive (11) session on a server is driving that account by hand, which is what
someone holding its password does once inside (and what the owner seldom does out of nowhere).
The baseline is every logon of the account before the day of the new session: it must hold at
least ``min_logons`` logons spread over at least ``min_history_days`` and not one interactive
logon (2, 7, 10 or 11) anywhere. A brand-new account has no baseline and is never flagged.
Sessions on workstations are left out when the inventory says so: help desks log on to desks.

Judged against its state (``baseline``): per account, its first day with a logon, its days with
any, and its logons, interactive ones and network ones, summed over the days before the judged
one. A slice of several days holds each day's sessions against the state plus the slice's
earlier days (``multi_day``): a finding is one account's sessions of one day.
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

SPEC = DetectorSpec(
    id="privilege.rdp_network_only",
    title="Interactive or RDP logon to a server by a network-only account",
    version="3",
    severity="high",
    techniques=("T1021.001", "T1078"),
    needs=(EventKind.LOGON,),
    requires_inventory=False,
    description=(
        "An account whose logons so far were all network (or service/batch) logons makes an "
        "interactive, RDP or cached interactive logon to a host that is not a workstation."
    ),
    params=(
        Param("logon_types", "2,10,11", "Logon types that mean a person at a keyboard."),
        Param("min_logons", 20, "Logons the account needs in its baseline."),
        Param("min_history_days", 7, "Days between the account's first logon and the session."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "baseline",
            keys={"b_user": "string"},
            values={
                "b_first": "timestamp('UTC', 6)",
                "b_days": "int64",
                "b_n": "int64",
                "b_inter": "int64",
                "b_net": "int64",
            },
            combine={
                "b_first": "min",
                "b_days": "sum",
                "b_n": "sum",
                "b_inter": "sum",
                "b_net": "sum",
            },
            description=(
                "Each account's logons: its first day, days with any, logons, interactive ones "
                "(2, 7, 10, 11) and network ones (3)."
            ),
        ),
    ),
    multi_day=True,
)

_INTERACTIVE_EVER = (2, 7, 10, 11)  # 7 unlocks an interactive session
_TYPE_NAMES = {2: "interactive", 3: "network", 4: "batch", 5: "service", 10: "RDP", 11: "cached"}
_SENSITIVE = {"file-server", "database", "domain-controller"}


def _logons(ctx: DetectionContext) -> ibis.Table:
    """The slice's successful logons by named accounts, with their day."""
    e = ctx.events
    return e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.user.notnull(),
        ~e.user.endswith("$"),
    ).mutate(day=lambda r: r.ts.truncate("D"))


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    types = [int(x) for x in str(p["logon_types"]).split(",") if x.strip()]
    logons = _logons(ctx)
    hits = logons.filter(
        logons.logon_type.isin(types),
        logons.dst_role.isnull() | (logons.dst_role != "workstation"),
    )
    if ctx.data_start is not None:
        hits = hits.filter(hits.ts >= warmup_end(ctx, int(p["warmup_days"])))
    # The baseline: the account's logons on the days before, that is the state before the
    # slice plus the slice's earlier days.
    base = _baseline(ctx, logons)
    j = hits.inner_join(base, [hits.user == base.b_user, hits.day == base.b_day])
    j = j.filter(j.b_inter == 0, j.b_n >= int(p["min_logons"]))
    # The first such day only: after it the account has an interactive logon in its history.
    j = j.filter(j.b_first <= j.day - ibis.interval(days=int(p["min_history_days"])))
    j = j.mutate(c_user=j.user, c_day=j.day, part_day=j.day)
    return j.group_by("c_user", "c_day", "part_day", "b_first", "b_days", "b_n", "b_net").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        types=j.logon_type.collect(distinct=True),
        privileged=j.privileged.max(),
        account_kind=j.account_kind.max(),
        dsts=j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip).collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        sites=j.dst_site.collect(distinct=True),
        srcs=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )


def _baseline(ctx: DetectionContext, logons: ibis.Table) -> ibis.Table:
    """Per account and day of the slice with a logon: its baseline before that day (the state,
    then the slice's earlier days; ``b_*``, keyed by ``b_user`` and ``b_day``)."""
    per = _per_day(logons)
    w = ibis.window(group_by=per.b_user, order_by=per.b_day, rows=(None, -1))
    per = per.select(
        "b_user",
        "b_day",
        s_first=per.b_day.min().over(w),
        s_days=per.b_day.count().over(w),
        **{f"s_{c}": per[f"d_{c}"].sum().over(w) for c in ("n", "inter", "net")},
    )
    base = ctx.state["baseline"]
    base = base.select(
        k_user=base.b_user,
        k_first=base.b_first,
        # (the engine's sum of int64 is wider: the state's sums come back as the declared type)
        **{f"k_{c}": base[f"b_{c}"].cast("int64") for c in ("days", "n", "inter", "net")},
    )
    j = per.left_join(base, per.b_user == base.k_user)
    # every state value lies before the slice: its first day, if any, is the account's first
    return j.select(
        "b_user",
        "b_day",
        b_first=j.k_first.fill_null(j.s_first),
        **{
            f"b_{c}": (j[f"k_{c}"].fill_null(0) + j[f"s_{c}"].fill_null(0)).cast("int64")
            for c in ("days", "n", "inter", "net")
        },
    )


def _per_day(logons: ibis.Table) -> ibis.Table:
    """Each account's logons per day of the slice: all, interactive ones, network ones."""
    return logons.group_by(b_user=logons.user, b_day=logons.day).aggregate(
        d_n=logons.count(),
        d_inter=logons.logon_type.isin(list(_INTERACTIVE_EVER)).sum().cast("int64"),
        d_net=(logons.logon_type == 3).sum().cast("int64"),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    per = _per_day(_logons(ctx))
    return {
        "baseline": per.group_by("b_user").aggregate(
            b_first=per.b_day.min(),
            b_days=per.count().cast("int64"),
            b_n=per.d_n.sum().cast("int64"),
            b_inter=per.d_inter.sum().cast("int64"),
            b_net=per.d_net.sum().cast("int64"),
        )
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["c_user"]
    dsts, roles = vals(row, "dsts"), vals(row, "dst_roles")
    srcs, ips = vals(row, "srcs"), vals(row, "src_ips")
    types = vals(row, "types")
    how = ", ".join(_TYPE_NAMES.get(t, f"type {t}") for t in types)
    sensitive = sorted(_SENSITIVE & set(roles))
    privileged = bool(row["privileged"])
    score = 65.0 + (10 if privileged else 0) + (10 if sensitive else 0)
    score += 5 if 10 in types else 0
    score += min(5.0, float(len(dsts) - 1))
    b_n, b_net = int(row["b_n"]), int(row["b_net"])
    if b_net == b_n:
        baseline = f"all {b_n} of its logons before were network logons (type 3)"
    elif b_net == 0:
        baseline = f"none of its {b_n} logons before was interactive or network (service, batch)"
    else:
        baseline = f"none of its {b_n} logons before was interactive ({b_net} network)"
    kind = f"{row['account_kind']} account " if row["account_kind"] else ""
    article = "an" if how[:1] in ("a", "e", "i", "o", "u", "R") else "a"
    reason = (
        f"{kind}{user}{' (privileged)' if privileged else ''} opened {article} {how} session on "
        f"{short_list(dsts) or 'an unknown host'}"
        + (f" ({', '.join(sensitive)})" if sensitive else "")
        + f" at {fmt_ts(row['first_seen'])} from "
        f"{short_list([*srcs, *(i for i in ips if i not in srcs)]) or 'an unknown source'}; "
        f"{baseline}, on {row['b_days']} day(s) since {fmt_ts(row['b_first'])[:10]}. "
        f"{row['n']} such logon(s) that day."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} logged on to a server by {how} for the first time",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts})),
        sites=tuple(vals(row, "sites")),
        ips=tuple(ips),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['c_day'].date().isoformat()}",
        actors=(user, *srcs, *ips),
        details={
            "logon_types": types,
            "baseline_logons": b_n,
            "baseline_network_logons": b_net,
            "dst_roles": roles,
        },
    )
