"""Service account used like a person: interactive or RDP logons, or explicit credentials.

Service accounts log on as services, batch jobs and over the network, from their servers. One
that logs on interactively (type 2), over RDP (10) or with cached credentials (11), or whose
credentials a process supplies explicitly (4648) on a workstation, is being driven by someone:
the compromised service account of many intrusions. Needs the inventory to know which accounts
are service accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="privilege.service_account_interactive",
    title="Service account used interactively",
    version="3",
    severity="high",
    techniques=("T1078.002", "T1021.001"),
    multi_day=True,
    needs=(EventKind.LOGON, EventKind.EXPLICIT_CREDENTIALS),
    requires_inventory=True,
    description=(
        "A service account logs on interactively, over RDP or with cached credentials, or its "
        "credentials are supplied explicitly on a workstation."
    ),
    params=(
        Param("logon_types", "2,10,11", "Logon types that mean a person at a keyboard."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    by_day=True,
)


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    types = [int(x) for x in str(ctx.params["logon_types"]).split(",") if x.strip()]
    hit = (e.account_kind == "service") & (
        ((e.kind == EventKind.LOGON.value) & e.logon_type.isin(types) & (e.outcome != "failure"))
        | ((e.kind == EventKind.EXPLICIT_CREDENTIALS.value) & (e.src_role == "workstation"))
    )
    t = e.filter(hit)
    t = t.mutate(
        where=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip).fill_null(t.dst_host),
        day=t.ts.truncate("D"),
    )
    return t.group_by("user", "day", part_day=t.day).aggregate(
        first_seen=t.ts.min(),
        last_seen=t.ts.max(),
        n=t.count(),
        types=t.logon_type.collect(distinct=True),
        kinds=t.kind.collect(distinct=True),
        sources=t.where.collect(distinct=True),
        dsts=t.dst_asset.fill_null(t.dst_host).collect(distinct=True),
        sites=t.src_site.collect(distinct=True),
        src_ips=t.src_ip.collect(distinct=True),
        evidence=earliest(t.event_id, t.ts, int(ctx.params["max_evidence"])),
    )


_TYPE_NAMES = {2: "interactive", 10: "RDP", 11: "cached interactive"}


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["user"]
    types = [_TYPE_NAMES.get(t, f"type {t}") for t in vals(row, "types")]
    how = ", ".join(types)
    if "explicit_credentials" in vals(row, "kinds"):
        how = (
            f"{how}, explicit credentials on a workstation"
            if how
            else ("explicit credentials on a workstation")
        )
    dsts, srcs = vals(row, "dsts"), vals(row, "sources")
    score = 70.0 + (15 if 10 in vals(row, "types") else 0) + min(10.0, 2.0 * len(dsts))
    reason = (
        f"service account {user} was used like a person ({how}) on "
        f"{fmt_ts(row['first_seen'])[:10]}: {row['n']} event(s) from {short_list(srcs)} to "
        f"{short_list(dsts) or 'unknown hosts'}, {fmt_ts(row['first_seen'])[11:]} to "
        f"{fmt_ts(row['last_seen'])[11:]}. Service accounts log on as services or over the network."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"service account {user} used interactively",
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
        key=f"{user}|{row['day'].date().isoformat()}",
        actors=(user, *srcs, *vals(row, "src_ips")),  # the keyboard it was used at acts
        details={"how": how, "destinations": dsts},
    )
