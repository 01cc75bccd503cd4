"""Password spraying and guessing: one source failing against many accounts within an hour.

Spraying tries one or two passwords against hundreds of accounts (4625, 4771, failed 4768/4776)
so that no account locks out; per account it looks like a typo. Per *source* it is a burst of
distinct accounts failing. A source is flagged when, in one hour, at least ``min_accounts``
distinct accounts fail from it and ``ratio`` times its own earlier hourly maximum. Any account
that then succeeds from the same source that day is named: that is the one the sprayer found.

The source of a network logon is its IP address when the event has one: the workstation name in
4625 is whatever the client claims, and guessing tools send a random one per attempt. Spraying
from a foothold also shows as explicit-credential events (4648: ``runas``, ``net use`` with a
password) naming many different target accounts from one computer in an hour; those count as a
second kind of burst, against that computer's own 4648 history.

Judged day by day: an hour lies within one day, and each source's most accounts in an hour of
the days before is the state (``best``), so a run over a new day reads that day only. One finding
per source and day, as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import best_of, best_table, evidence_of, flagged_hours, warmup_end
from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="fanout.failure_burst",
    title="Password spraying or guessing",
    version="4",
    severity="high",
    techniques=("T1110.003", "T1110.001"),
    # logons only add which accounts then succeeded from the source
    multi_day=True,
    needs=(EventKind.LOGON_FAILURE, EventKind.KERBEROS_TGT, EventKind.EXPLICIT_CREDENTIALS),
    requires_inventory=False,
    description=(
        "Many distinct accounts fail to authenticate from one source within an hour, far more "
        "than that source ever failed before."
    ),
    params=(
        Param("min_accounts", 15, "Distinct accounts failing from a source in an hour."),
        Param("min_accounts_new", 15, "The same for a source with no earlier failure hour."),
        Param("ratio", 3.0, "How many times its previous hourly maximum the count must reach."),
        Param("warmup_days", 0, "Initial days that only build the baseline."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(best_table("distinct accounts failing (or named in 4648)"),),
)


def _rows(ctx: DetectionContext) -> ibis.Table:
    """The day's failures per source, and explicit-credential uses per computer."""
    e = ctx.events
    fails = e.filter(
        (e.outcome == "failure")
        & e.kind.isin([EventKind.LOGON_FAILURE.value, EventKind.KERBEROS_TGT.value])
        & e.user.notnull()
    )
    src = fails.src_asset.fill_null(fails.src_ip).fill_null(fails.src_host)
    rows = fails.mutate(
        entity=src, entity_kind=ibis.literal("source"), hour=fails.ts.truncate("h")
    ).filter(lambda r: r.entity.notnull())
    rows = rows.select("entity", "entity_kind", "hour", "user", "ts", "event_id", "status")
    ex = e.filter((e.kind == EventKind.EXPLICIT_CREDENTIALS.value) & e.user.notnull())
    ex = ex.mutate(
        entity=ex.src_asset.fill_null(ex.src_host).fill_null(ex.src_ip),
        entity_kind=ibis.literal("explicit"),
        hour=ex.ts.truncate("h"),
    ).filter(lambda r: r.entity.notnull())
    return rows.union(
        ex.select("entity", "entity_kind", "hour", "user", "ts", "event_id", "status")
    )


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    rows = _rows(ctx)
    hours = flagged_hours(
        rows,
        "user",
        min_n=int(p["min_accounts"]),
        min_new=int(p["min_accounts_new"]),
        ratio=float(p["ratio"]),
        not_before=warmup_end(ctx, int(p["warmup_days"])),
        before=ctx.state["best"],
    )
    j = evidence_of(rows, hours)
    bursts = j.group_by("entity_kind", "entity", "day", part_day=j.day).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        events=j.count(),
        peak=j.n.max(),
        prev=j.prev.max(),
        accounts=j.user.nunique(),
        sample=j.user.collect(distinct=True),
        statuses=j.status.collect(distinct=True),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )
    # successes from the same source, the same day, after the burst began
    ok = e.filter((e.outcome == "success") & e.kind.isin([EventKind.LOGON.value]))
    ok = ok.mutate(entity=ok.src_asset.fill_null(ok.src_ip).fill_null(ok.src_host))
    hit = bursts.left_join(
        ok,
        [
            bursts.entity == ok.entity,
            ok.ts >= bursts.first_seen,
            ok.ts < bursts.day + ibis.interval(days=1),
        ],
    )
    return hit.group_by(*bursts.columns).aggregate(succeeded=hit.user.collect(distinct=True))


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    return {"best": best_of(_rows(ctx), "user")}


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    entity = row["entity"]
    prev = row["prev"]
    won = vals(row, "succeeded")
    score = 55.0 + 8.0 * math.log2(max(row["peak"] / max(prev or 1, 1), 1.0))
    score = min(100.0, score + (20 if won else 0))
    history = f"its most in an earlier hour was {prev}" if prev is not None else "a first"
    explicit = row["entity_kind"] == "explicit"
    what = (
        "distinct accounts' credentials were supplied explicitly (4648) on"
        if explicit
        else "distinct accounts failed to authenticate from"
    )
    reason = (
        f"{row['accounts']} {what} {entity} on "
        f"{fmt_ts(row['first_seen'])[:10]} (up to {row['peak']} in one hour; {history}); "
        f"statuses {', '.join(vals(row, 'statuses')) or 'unknown'}; accounts include "
        f"{short_list(vals(row, 'sample'))}."
        + (f" Then {short_list(won)} logged on from {entity}." if won else "")
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=(
            f"{row['accounts']} accounts' credentials tried on {entity}"
            if explicit
            else f"{row['accounts']} accounts failing from {entity}"
        ),
        severity="critical" if won else SPEC.severity,
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=tuple(won),
        hosts=(entity,),
        sites=(),
        ips=(),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["events"]),
        key=f"{entity}|{row['day'].date().isoformat()}" + ("|explicit" if explicit else ""),
        actors=(entity, *won),
        details={
            "accounts_failed": row["accounts"],
            "peak_per_hour": row["peak"],
            "previous_max": prev,
            "succeeded": won,
        },
    )
