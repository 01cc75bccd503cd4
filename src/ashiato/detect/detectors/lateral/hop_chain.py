"""Lateral-movement paths: logged on to host B, then from B on to C, and on, as never before.

People reach servers from their own workstation (or a jump host they always use). An intruder
moves *through* the estate: logs on to B, then from B on to C. A link is an arrival on B followed,
within ``window_days``, by an account acting from B for the first time (after the warm-up); the
arrival may be by the same account or, within ``switch_hours``, by a different one that had never
logged on to B before (a credential switch: the account acting from B never arrived there). A hop
from a desk where the account, or the person who owns it, logged on interactively is someone
working there, not movement. Links whose onward leg is the next link's arrival join into one path
(A→B→C→D...), reported once. In the spirit of Hopper, each hop is scored by its rarity: on how
many earlier days that source reached that host, and that account reached that host.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import ibis
import pyarrow as pa

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.detectors.lateral import _hop_paths as hp
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="lateral.hop_chain",
    title="Lateral-movement path through hosts",
    version="5",
    severity="high",
    techniques=("T1021", "T1078", "T1570", "T1550"),
    needs=tuple(k for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT),
    requires_inventory=False,
    description=(
        "An account logs on to a host and then, within days, that host becomes the source of "
        "logons it had never made (by the same account, or by another: a credential switch); "
        "hops chain into one path, scored by how rare each hop is."
    ),
    params=(
        Param("window_days", 14, "How long after arriving on a host a hop from it counts."),
        Param("switch_hours", 24, "How long after another account's arrival a switch counts."),
        Param("onward_hours", 12, "Onward events after the first one that belong to the hop."),
        Param("warmup_days", 7, "Initial days that only build the baseline."),
        Param("min_novelty", 0.2, "Paths whose rarest hop is less novel than this are routine."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

_KINDS = [k.value for k in CREDENTIAL_KINDS if k is not EventKind.KERBEROS_TGT]


def _credential_events(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    t = e.filter(
        e.kind.isin(_KINDS), e.outcome != "failure", e.user.notnull(), ~e.user.endswith("$")
    )
    t = t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host),
    )
    return t.filter(t.src.notnull() & t.dst.notnull() & (t.src != t.dst))


def _links(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """One row per (arriving account, from, via, acting account, to): the two-hop links."""
    e, p = ctx.events, ctx.params
    window = ibis.interval(days=int(p["window_days"]))
    start = warmup_end(ctx.data_start, int(p["warmup_days"]))
    # the first time each account acts from each source host, and what it did in the hours after
    first = t.group_by("user", "src").aggregate(first_ts=t.ts.min())
    if start is not None:
        first = first.filter(first.first_ts >= start)
    # A person at the keyboard of the source host (the account, or the person who owns it, logged
    # on interactively there) is someone working on that host, not a credential moving through
    # it: an admin on a business trip runs admin tools from the desk they sit at.
    desk = e.filter(
        (e.kind == EventKind.LOGON.value) & e.logon_type.isin([2, 11]) & (e.outcome != "failure")
    )
    desk = desk.select(
        d_user=desk.user, d_host=desk.dst_asset.fill_null(desk.dst_host), d_ts=desk.ts
    )
    owners = t.select("user", "owner").distinct()

    def at_desk(x: ibis.Table, user: str, host: str, ts: str) -> ibis.Table:
        """The rows of ``x`` whose account, or its owner, sat at ``host`` within the window."""
        x1 = x.left_join(owners, x[user] == owners.user).select(x, d_owner=owners.owner)
        return x1.inner_join(
            desk,
            [
                desk.d_host == x1[host],
                (desk.d_user == x1[user]) | (desk.d_user == x1.d_owner),
                desk.d_ts <= x1[ts],
                desk.d_ts >= x1[ts] - window,
            ],
        ).select(*x.columns)

    present = at_desk(first, "user", "src", "first_ts").select("user", "src")
    first = first.anti_join(present, ["user", "src"])
    switch = ibis.interval(hours=int(p["switch_hours"]))
    onward = ibis.interval(hours=int(p["onward_hours"]))
    hops = t.inner_join(first, ["user", "src"]).select(t, first.first_ts)
    hops = hops.filter(hops.ts <= hops.first_ts + onward)
    # every arrival on a host; a different account's arrival counts only if it was its first
    arr = t.select(
        a_user=t.user, via=t.dst, a_from=t.src, a_ts=t.ts, a_event=t.event_id, a_site=t.src_site
    )
    a_first = arr.group_by("a_user", "via").aggregate(a_first=arr.a_ts.min())
    arr = arr.inner_join(a_first, ["a_user", "via"]).select(arr, a_first.a_first)
    same = hops.inner_join(
        arr,
        [
            arr.a_user == hops.user,
            arr.via == hops.src,
            arr.a_ts < hops.first_ts,
            arr.a_ts >= hops.first_ts - window,
        ],
    )
    # An arrival from the arriving account's own desk (it, or its owner, logged on there at the
    # keyboard) is someone at work reaching a machine: an administrator fixing a branch PC from
    # Tokyo. It explains a move onward only within hours; days later, someone else acting from
    # that PC with the same credential did not come from the administrator's desk. (Checked on
    # the arrivals that precede a hop only: every arrival of a 29,000-terminal month joined to
    # the desk logons ran DuckDB out of memory.)
    cand = same.select("a_event", "a_user", "a_from", "a_ts").distinct()
    from_desk = at_desk(cand, "a_user", "a_from", "a_ts").select(d_event="a_event").distinct()
    same = same.left_join(from_desk, same.a_event == from_desk.d_event)
    same = same.filter(same.d_event.isnull() | (same.a_ts >= same.first_ts - switch))
    same = same.drop("d_event")
    came = same.select("user", "src").distinct()
    other = hops.anti_join(came, ["user", "src"])
    other = other.inner_join(
        arr,
        [
            arr.a_user != other.user,
            arr.via == other.src,
            arr.a_ts == arr.a_first,
            arr.a_ts < other.first_ts,
            arr.a_ts >= other.first_ts - switch,
        ],
    )
    # A switch is a guess at cause; it is only made when it is unambiguous (exactly one other
    # account arrived) and when the host has a baseline (a host that just appeared, like a new
    # office being set up, has every account arriving and acting for the first time).
    n_in = other.group_by("user", "src").aggregate(n_in=other.a_user.nunique())
    other = other.inner_join(n_in.filter(n_in.n_in == 1), ["user", "src"]).select(other)
    ends = t.select(h=t.src, h_ts=t.ts).union(t.select(h=t.dst, h_ts=t.ts))
    born = ends.group_by("h").aggregate(born=ends.h_ts.min())
    other = other.inner_join(born, other.src == born.h).select(other, born.born)
    base = ibis.interval(days=int(p["warmup_days"]))
    other = other.filter(other.born <= other.first_ts - base).drop("born")
    if start is not None:
        other = other.filter(other.a_ts >= start)
    j = same.union(other)
    return j.group_by("a_user", "a_from", "via", "user", "dst").aggregate(
        a_ts=j.a_ts.min(),
        h_ts=j.ts.min(),
        last_ts=j.ts.max(),
        a_events=earliest(j.a_event, j.a_ts, int(p["max_evidence"])),
        h_events=earliest(j.event_id, j.ts, int(p["max_evidence"])),
        sites=j.a_site.collect(distinct=True),
        via_sites=j.src_site.collect(distinct=True),
        to_sites=j.dst_site.collect(distinct=True),
        roles=j.dst_role.collect(distinct=True),
        privileged=j.privileged.max(),
    )


def query(ctx: DetectionContext) -> ibis.Table:
    t = _credential_events(ctx)
    links = ctx.execute(_links(ctx, t)).to_pylist()
    if not links:
        return ibis.memtable(pa.table({c.name: [] for c in hp.SCHEMA}, schema=hp.SCHEMA))
    # rarity of every hop: on how many earlier days its source reached its target, and its
    # account reached its target (from anywhere)
    edges = hp.edges_of(links)
    et = ibis.memtable(pa.table(edges, schema=hp.EDGE_SCHEMA))
    d = t.mutate(day=t.ts.truncate("D"))
    hd = d.select("src", "dst", "day").distinct()
    ad = d.select("user", "dst", "day").distinct()
    h = et.left_join(hd, [et.src == hd.src, et.dst == hd.dst, hd.day < et.ts.truncate("D")])
    h = h.group_by(et.src, et.dst, et.user, et.ts).aggregate(host_days=h.day.count())
    a = et.left_join(ad, [et.user == ad.user, et.dst == ad.dst, ad.day < et.ts.truncate("D")])
    a = a.group_by(et.src, et.dst, et.user, et.ts).aggregate(acct_days=a.day.count())
    counts = ctx.execute(h.inner_join(a, ["src", "dst", "user", "ts"])).to_pylist()
    found = hp.assemble(links, counts, float(ctx.params["min_novelty"]))
    return ibis.memtable(pa.table(found, schema=hp.SCHEMA))


def _actors(hops: list[dict[str, Any]], path: list[str]) -> tuple[str, ...]:
    """The accounts and hosts that act along the path. When the path opens with a credential
    switch, the account that arrived on the first host, and the host it came from, are a guess
    at cause (an administrator's routine visit the day before someone else acted from there):
    named in the finding, but not its actors, so they join no incident by themselves."""
    if len(hops) > 1 and hops[0]["user"] != hops[1]["user"]:
        return tuple(sorted({*(h["user"] for h in hops[1:]), *path[1:-1]}))
    return tuple(sorted({*(h["user"] for h in hops), *path[:-1]}))


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    hops = hp.hops_of(row)
    path = [hops[0]["src"], *[h["dst"] for h in hops]]
    accounts = vals(row, "accounts")
    sites = vals(row, "sites")
    switch = len({h["user"] for h in hops}) > 1
    sensitive = {"file-server", "database", "domain-controller"} & set(vals(row, "roles"))
    rarest = max(h["novelty"] for h in hops)
    score = 40.0 + 30.0 * rarest + (10 if switch else 0) + (10 if row["privileged"] else 0)
    score += (5 if sensitive else 0) + (10 if len(sites) > 1 else 0)
    score += 5 * min(2, len(hops) - 2)
    steps = "; ".join(
        f"{h['user']} {h['src']}→{h['dst']} at {fmt_ts(h['ts'])} "
        f"(source→host seen on {h['host_days']} earlier day(s), account→host on {h['acct_days']})"
        for h in hops
    )
    extra = vals(row, "branches")
    reason = (
        f"{len(hops)}-hop path {' → '.join(path)}"
        + (f" with a credential switch ({' → '.join(hp.users_in_order(hops))})" if switch else "")
        + (f", across sites {', '.join(sites)}" if len(sites) > 1 else "")
        + f": {steps}."
        + (f" Also from the same hosts: {short_list(extra)}." if extra else "")
    )
    evidence = vals(row, "evidence")
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{' / '.join(accounts)} moved {' → '.join(path)}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(round(score, 1), 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=tuple(accounts),
        hosts=tuple(vals(row, "hosts")),
        sites=tuple(sites),
        ips=(),
        reason=reason,
        evidence=tuple(evidence[:cap]),
        evidence_count=len(evidence),
        key=f"{accounts[0]}|{path[1]}|{row['first_seen'].isoformat()}",
        actors=_actors(hops, path),
        details={"path": path, "hops": json.loads(row["hops"])},
    )
