"""Credential fan-out: one account, or one source, reaching far more hosts in an hour than ever.

Pass-the-hash sprees and worm-like lateral movement touch dozens of machines quickly, with valid
credentials. Admins and help desk touch many hosts too, so the bar is each entity's *own* history:
an hour is flagged when it reaches at least ``min_hosts`` distinct hosts and ``ratio`` times the
most that entity ever reached in an hour before (``min_hosts_new`` for an entity with no history).
Counting per source host as well as per account catches a spree that borrows a help-desk
credential (busy as an account) from a workstation that never fans out. Needs no inventory.

Judged day by day: an hour lies within one day, and each entity's most hosts in an hour of the
days before is the state (``best``), so a run over a new day reads that day only. One finding per
entity and day, as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import best_of, best_table, evidence_of, flagged_hours, warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="fanout.credential_fanout",
    title="Credential fan-out",
    version="3",
    severity="high",
    techniques=("T1021", "T1550.002", "T1078"),
    multi_day=True,
    needs=tuple(k for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT),
    requires_inventory=False,
    description=(
        "An account or a source host reaches many more distinct hosts within an hour than it "
        "ever did in an hour before."
    ),
    params=(
        Param("min_hosts", 10, "Distinct destination hosts in an hour before anything counts."),
        Param("min_hosts_new", 20, "The same for an entity with no earlier hour in the data."),
        Param("ratio", 3.0, "How many times its previous hourly maximum the count must reach."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(best_table("distinct hosts reached"),),
)

_KINDS = [k.value for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT]


def _per_entity(t: ibis.Table, entity: ibis.Value, label: str) -> ibis.Table:
    x = t.mutate(entity=entity, entity_kind=ibis.literal(label)).filter(
        lambda r: r.entity.notnull()
    )
    return x.select("entity", "entity_kind", "hour", "dst", "ts", "event_id", "privileged", "user")


def _rows(ctx: DetectionContext) -> ibis.Table:
    """The day's successful credential uses, once per account and once per source host."""
    e = ctx.events
    t = e.filter(e.kind.isin(_KINDS), e.outcome != "failure")
    t = t.mutate(
        hour=t.ts.truncate("h"),
        dst=t.dst_asset.fill_null(t.dst_host).fill_null(t.dst_ip),
    ).filter(lambda r: r.dst.notnull())
    return _per_entity(t, t.user, "account").union(
        _per_entity(t, t.src_asset.fill_null(t.src_host).fill_null(t.src_ip), "source")
    )


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    both = _rows(ctx)
    hours = flagged_hours(
        both,
        "dst",
        min_n=int(p["min_hosts"]),
        min_new=int(p["min_hosts_new"]),
        ratio=float(p["ratio"]),
        not_before=warmup_end(ctx, int(p["warmup_days"])),
        before=ctx.state["best"],
    )
    j = evidence_of(both, hours)
    return j.group_by("entity_kind", "entity", "day", part_day=j.day).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        events=j.count(),
        peak=j.n.max(),
        prev=j.prev.max(),
        hours=j.hour.nunique(),
        dsts=j.dst.collect(distinct=True),
        users=j.user.collect(distinct=True),
        privileged=j.privileged.max(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    return {"best": best_of(_rows(ctx), "dst")}


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    entity, kind = row["entity"], row["entity_kind"]
    dsts = vals(row, "dsts")
    users = vals(row, "users")
    prev = row["prev"]
    jump = row["peak"] / max(prev or 1, 1)
    score = min(100.0, 50.0 + 10.0 * math.log2(max(jump, 1.0)) + (15 if row["privileged"] else 0))
    history = (
        f"its most in any earlier hour was {prev}"
        if prev is not None
        else "it had no earlier activity in the data"
    )
    who = f"account {entity}" if kind == "account" else f"source {entity}"
    reason = (
        f"{who} reached {row['peak']} distinct hosts within one hour ({row['hours']} such hour(s) "
        f"on {fmt_ts(row['first_seen'])[:10]}; {len(dsts)} hosts that day: {short_list(dsts)}); "
        f"{history}. Accounts used: {short_list(users) or 'unknown'}."
    )
    accounts = tuple(users) if kind == "source" else (entity,)
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{who} fanned out to {row['peak']} hosts in an hour",
        severity="critical" if score >= 90 else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=accounts,
        hosts=tuple(sorted({*dsts, *([entity] if kind == "source" else [])})),
        sites=(),
        ips=(),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["events"]),
        key=f"{kind}|{entity}|{row['day'].date().isoformat()}",
        actors=(entity, *users) if kind == "source" else (entity,),
        details={"peak_hosts_per_hour": row["peak"], "previous_max": prev, "hours": row["hours"]},
    )
