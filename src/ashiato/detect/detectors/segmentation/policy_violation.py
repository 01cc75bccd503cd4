"""Segmentation-policy violation: an access along a path the enterprise's policy does not allow.

The incident this product exists for was machines in overseas offices reaching Japan's servers; a
written policy ("Thailand workstations do not log on to data-centre file servers") turns that into
an alarm on the first event, whatever the credentials. One finding per (account, source, destination
site); the policy is evaluated in Python over the few distinct paths, the events in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import pyarrow as pa

from ashiato.detect.common import ACCESS_KINDS, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind
from ashiato.inventory import policy as pol

SPEC = DetectorSpec(
    id="segmentation.policy_violation",
    title="Segmentation-policy violation",
    version="1",
    severity="high",
    techniques=("T1021", "T1078"),
    needs=(
        EventKind.LOGON,
        EventKind.SHARE_ACCESS,
        EventKind.SHARE_OBJECT,
        EventKind.EXPLICIT_CREDENTIALS,
        EventKind.NETWORK_FLOW,
    ),
    requires_inventory=True,
    description=(
        "An access (logon, share access, explicit-credential use, network flow) from a site/role "
        "to a site/role that no policy rule allows for that class of account."
    ),
    params=(
        Param(
            "max_evidence", 2000, "Evidence event ids kept per finding (the count is kept whole)."
        ),
    ),
)

_PATH_COLS = ("src_site", "src_role", "dst_site", "dst_role", "user")


def _violating_paths(ctx: DetectionContext, t: ibis.Table) -> pa.Table:
    inv = ctx.inventory
    assert inv is not None  # the runner skips this detector without an inventory
    paths = ctx.execute(t.select(*_PATH_COLS).distinct())
    accounts = {a.user: a for a in inv.accounts}
    rows: dict[str, list[Any]] = {c: [] for c in (*_PATH_COLS, "rule")}
    for p in paths.to_pylist():
        user = p["user"]
        verdict = pol.evaluate(
            inv.policy,
            p["src_site"],
            p["src_role"],
            p["dst_site"],
            p["dst_role"],
            accounts.get(user) if user else None,
            user,
        )
        if verdict.action == "deny":
            for c in _PATH_COLS:
                rows[c].append(p[c])
            rows["rule"].append(verdict.rule)
    return pa.table(rows, schema=pa.schema([(c, pa.string()) for c in (*_PATH_COLS, "rule")]))


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    t = e.filter(
        e.kind.isin([k.value for k in ACCESS_KINDS]) & (e.outcome != "failure"),
        e.src_site.notnull(),
        e.dst_site.notnull(),
    )
    bad = ibis.memtable(_violating_paths(ctx, t))
    preds = [t[c].identical_to(bad[c]) for c in _PATH_COLS]
    j = t.inner_join(bad, preds).select(t, bad.rule)
    src = j.src_asset.fill_null(j.src_host).fill_null(j.src_ip)
    j = j.mutate(src_key=src.fill_null("?"), user_key=j.user.fill_null(""))
    return j.group_by("user_key", "src_key", "src_site", "dst_site").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        evidence=j.event_id.collect(order_by=[j.ts, j.event_id]),
        dst_hosts=j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip).collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        src_hosts=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        src_roles=j.src_role.collect(distinct=True),
        rules=j.rule.collect(distinct=True),
        kinds=j.kind.collect(distinct=True),
        privileged=j.privileged.max(),
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["user_key"] or None
    dst_hosts = vals(row, "dst_hosts")
    roles = vals(row, "dst_roles")
    sensitive = {"file-server", "database", "domain-controller"} & set(roles)
    score = 55.0 + (20 if row["privileged"] else 0) + (15 if sensitive else 0)
    score += min(10.0, len(dst_hosts) * 2.0)
    who = f"{user}{' (privileged)' if row['privileged'] else ''}" if user else "traffic"
    src_role = "/".join(vals(row, "src_roles")) or "host"
    reason = (
        f"{who} from {src_role} {row['src_key']} in {row['src_site']} reached "
        f"{len(dst_hosts)} host(s) in {row['dst_site']} ({short_list(dst_hosts)}; roles "
        f"{', '.join(roles) or 'unknown'}): {row['n']} events from {fmt_ts(row['first_seen'])} to "
        f"{fmt_ts(row['last_seen'])}. No policy rule allows {row['src_site']} {src_role} -> "
        f"{row['dst_site']} {'/'.join(roles) or ''} for this account "
        f"(decided by: {', '.join(vals(row, 'rules'))})."
    )
    hosts = tuple(sorted({*vals(row, "src_hosts"), *dst_hosts}))
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{row['src_site']} -> {row['dst_site']} not allowed by policy",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,) if user else (),
        hosts=hosts,
        sites=tuple(sorted({row["src_site"], row["dst_site"]})),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{row['user_key']}|{row['src_key']}|{row['src_site']}|{row['dst_site']}",
        actors=tuple(a for a in (user, *vals(row, "src_hosts"), *vals(row, "src_ips")) if a),
        details={
            "events": int(row["n"]),
            "dst_hosts": dst_hosts,
            "dst_roles": roles,
            "kinds": vals(row, "kinds"),
            "policy_decided_by": vals(row, "rules"),
        },
    )
