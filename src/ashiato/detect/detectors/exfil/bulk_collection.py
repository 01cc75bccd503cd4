"""Bulk collection from file shares: an account reads far more files in a day than it ever did.

Before data leaves, it is gathered: an insider or an intruder with a valid account walks a file
share and reads hundreds or thousands of objects (ATT&CK T1039, then T1074 staging). Each read
is an ordinary, permitted access to a share the account uses every day, so no access rule fires;
the volume against the account's *own* history is what gives it away. Accounts that read a lot
every day (backup, indexing, sync services) carry that in their baseline and stay quiet.

Needs share-object events (Windows 5145, or equivalent). One finding per account and day. The
finding also cites the session that staged the collection (``_staging``): interactive and RDP
logons onto the hosts the reads came from in the ``staging_hours`` before, their source hosts, and
the records between.

Judged as day by day against its state: ``active`` (how many days each account read share
objects) and ``recent`` (its last ``history_days`` active days' reads, a ring of that many slots:
the account's k-th active day, counting from 0, goes to slot k mod ``history_days``, so the
state stays that big however long the history), and ``host_names`` (``_staging``). A slice of
several days is judged at once (``multi_day``): each day against the state's active days and
the slice's earlier ones. The raw events of the day before are read too, for the staging session
of reads early in the morning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.detectors.exfil._staging import (
    CONTEXT_DAYS,
    NAMES,
    attach,
    describe,
    judged,
    names_of,
    staging,
)
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="exfil.bulk_collection",
    title="Bulk collection from file shares",
    version="4",
    severity="high",
    techniques=("T1039", "T1074"),
    needs=(EventKind.SHARE_OBJECT,),
    requires_inventory=False,
    description=(
        "An account reads, in one day, many times more share objects than on any of its "
        "previous active days."
    ),
    params=(
        Param("min_reads", 200, "Share objects read in the day, at least."),
        Param("ratio", 10.0, "Times the account's busiest previous day, at least."),
        Param("history_days", 30, "Previous active days of the account that form its baseline."),
        Param("min_history", 5, "Previous active days needed before the account is judged."),
        Param("staging_hours", 4, "Hours before the reads whose interactive logons are cited."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "active",
            keys={"user": "string"},
            values={"days": "int64"},
            combine={"days": "sum"},
            description="How many days each account read share objects.",
        ),
        StateTable(
            "recent",
            keys={"user": "string", "slot": "int64"},
            values={"day": "timestamp('UTC', 6)", "reads": "int64"},
            combine={"day": "max", "reads": "last:day"},
            description="Each account's share-object reads on its last history_days active days "
            "(a ring: the k-th active day is slot k mod history_days, a later day replaces an "
            "earlier).",
        ),
        NAMES,
    ),
    context_days=CONTEXT_DAYS,
    multi_day=True,
)


def _reads(ctx: DetectionContext) -> ibis.Table:
    """The judged day's successful share-object reads by (non-machine) accounts."""
    e = judged(ctx)
    t = e.filter(
        e.kind == EventKind.SHARE_OBJECT.value,
        e.outcome != "failure",
        e.user.notnull(),
        e.user != "",
        ~e.user.endswith("$"),
    )
    return t.mutate(day=t.ts.truncate("D"))


def _daily(t: ibis.Table) -> ibis.Table:
    return t.group_by("user", "day").aggregate(reads=t.count().cast("int64"))


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    t = _reads(ctx)
    daily = _daily(t)
    # each judged day against the account's previous history_days active days: the state's
    # (the last ones before the slice) and the slice's own earlier days
    recent = ctx.state["recent"]
    past = recent.select(
        "user",
        day=recent.day.cast(daily.day.type()),
        reads=recent.reads,
        _judged=ibis.literal(False),
    )
    both = past.union(daily.mutate(_judged=ibis.literal(True)))
    w = ibis.window(group_by="user", order_by="day", rows=(-int(p["history_days"]), -1))
    both = both.mutate(prior_max=both.reads.max().over(w), prior_days=both.reads.count().over(w))
    daily = both.filter(both._judged).drop("_judged")
    hit = daily.filter(
        daily.reads >= int(p["min_reads"]),
        daily.prior_days >= int(p["min_history"]),
        daily.reads >= float(p["ratio"]) * ibis.greatest(daily.prior_max.fill_null(0), 1),
    )
    j = t.inner_join(hit, ["user", "day"])
    j = j.mutate(reader=j.src_asset.fill_null(j.src_host).fill_null(j.src_ip))
    res = j.group_by("user", "day", part_day=j.day).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        prior_max=j.prior_max.max(),
        prior_days=j.prior_days.max(),
        paths=j.path.nunique(),
        shares=j.share.collect(distinct=True),
        servers=j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip).collect(distinct=True),
        sources=j.src_asset.fill_null(j.src_host).fill_null(j.src_ip).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        sites=j.dst_site.collect(distinct=True),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
    )
    readers = j.filter(j.reader.notnull())
    readers = readers.group_by("user", "day", host=readers.reader).aggregate(
        host_ip=readers.src_ip.max(), t0=readers.ts.min(), t1=readers.ts.max()
    )
    keys = ("user", "day")
    staged = staging(
        ctx.events,
        readers,
        keys,
        float(p["staging_hours"]),
        int(p["max_evidence"]),
        ctx.state[NAMES.name],
        day="day",
    )
    return attach(res, staged, keys)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    daily = _daily(_reads(ctx))
    active = ctx.state["active"]
    ring = daily.left_join(active, daily.user == active.user).select(daily, before=active.days)
    # the slice's k-th active day of the account follows the state's: a later one replaces an
    # earlier in the same slot (``last:day``)
    kth = ibis.row_number().over(group_by=ring.user, order_by=ring.day)
    return {
        "active": daily.select("user", days=ibis.literal(1, "int64")),
        "recent": ring.select(
            "user",
            slot=(ring.before.fill_null(0) + kth) % int(ctx.params["history_days"]),
            day=ring.day,
            reads=ring.reads,
        ),
        NAMES.name: names_of(ctx),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user, n, before = row["user"], int(row["n"]), int(row["prior_max"] or 0)
    times = n / max(before, 1)
    score = min(95.0, 55.0 + 10.0 * math.log10(times))
    servers, sources = vals(row, "servers"), vals(row, "sources")
    reason = (
        f"{user} read {n:,} objects ({int(row['paths']):,} distinct paths) from "
        f"{short_list(servers) or 'file shares'} ({short_list(vals(row, 'shares'))}) on "
        f"{fmt_ts(row['first_seen'])[:10]}, {fmt_ts(row['first_seen'])[11:]} to "
        f"{fmt_ts(row['last_seen'])[11:]}, from {short_list(sources) or 'an unknown source'}: "
        f"{times:,.0f}× its busiest day among the previous {row['prior_days']} active days "
        f"({before:,} objects)."
    )
    reads = list(row["evidence"][:cap])
    hours = float(ctx.params["staging_hours"])
    st = describe(row, short_list(sources) or "the reading host", hours, reads)
    reason += st["sentence"]
    staged = st["evidence"]
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} read {n:,} share objects in a day",
        severity="critical" if score >= 90 else SPEC.severity,
        score=round(score, 1),
        techniques=SPEC.techniques,
        first_seen=min(row["first_seen"], row.get("stage_first") or row["first_seen"]),
        last_seen=row["last_seen"],
        accounts=tuple(sorted({user, *st["accounts"]})),
        hosts=tuple(sorted({*servers, *sources, *st["hosts"]})),
        sites=tuple(vals(row, "sites")),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(reads + staged),
        evidence_count=n + len(staged),
        key=f"{user}|{row['day'].date().isoformat()}",
        actors=(user, *sources, *(a for a in st["accounts"] if a != user), *st["hosts"]),
        details={"reads": n, "busiest_previous_day": before, "servers": servers, **st["details"]},
    )
