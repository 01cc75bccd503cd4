"""First-seen and rare access: an account reaches a host that neither it nor anyone like it uses.

In the spirit of Hopper (USENIX Security 2021) and of the plain "never-seen logon" baseline: most
new (account, destination) pairs are benign (a new colleague's PC, a new file server), so novelty
alone floods the queue. A new pair is kept only when it is also *rare*: few accounts ever reached
the destination before, no peer of the account (same inventory group, else home site, else
source site) did, and the access is not part of a collective or habitual pattern: a migration
moves many accounts onto the same host on one day, and help-desk or backup accounts reach new
hosts all the time (their own breadth of destinations discounts them). The source side is noted
too: whether the source site or source host had ever reached that destination, and whether the
account had ever been used from that site. One finding per account and day, over the day's rare
new destinations; the first ``warmup_days`` of data only build the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import ibis

from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param

SPEC = DetectorSpec(
    id="novelty.rare_access",
    title="First-seen rare access",
    version="1",
    severity="medium",
    techniques=("T1078", "T1021"),
    needs=CREDENTIAL_KINDS,
    requires_inventory=False,
    description=(
        "An account reaches, for the first time in the look-back window, a host that few accounts "
        "and none of its peers ever reached, from a source site that never reached it."
    ),
    params=(
        Param("lookback_days", 30, "How far back a previous access of the pair counts."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("max_dst_accounts", 3, "A destination reached before by more accounts is popular."),
        Param("max_breadth", 50, "An account that already reached more hosts is habitually new."),
        Param("max_collective", 3, "More accounts newly reaching the host that day: a migration."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

SENSITIVE_ROLES = frozenset({"file-server", "database", "domain-controller"})


def features(ctx: DetectionContext) -> ibis.Table:
    """Every new (account, destination) pair with its rarity features (one row per pair onset)."""
    e = ctx.events
    t = e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.user.notnull(),
        e.user != "",
        ~e.user.endswith("$"),
        e.dst_asset.fill_null(e.dst_host).notnull(),
    )
    src = t.src_asset.fill_null(t.src_host).fill_null(t.src_ip).fill_null("?")
    groups = t.groups.fill_null(ibis.literal([], type="array<string>"))
    peer = ibis.ifelse(groups.length() > 0, "group " + groups.sort().join(","), ibis.null("string"))
    peer = peer.fill_null("home site " + t.home_site).fill_null("source site " + t.src_site)
    t = t.mutate(
        dst=t.dst_asset.fill_null(t.dst_host),
        src=src,
        site=t.src_site.fill_null("?"),
        peer=peer,
        day=t.ts.truncate("D"),
    )
    # Only the pair's previous access needs a window (a sort per pair); whether an event is the
    # first of its (source, host), (site, host) or (account, site), and when an account or a
    # host was first seen, are hash aggregates joined onto the few new pairs afterwards: at
    # 100 M events each extra window was a full sort of the credential events that spilled.
    base, order = t, [t.ts, t.event_id]
    t = t.mutate(prev_pair=t.ts.lag().over(ibis.window(group_by=[t.user, t.dst], order_by=order)))
    lookback = ibis.interval(days=int(ctx.params["lookback_days"]))
    n = t.filter(t.prev_pair.isnull() | (t.ts > t.prev_pair + lookback))
    for name, keys in {
        "first_src_dst": ("src", "dst"),
        "first_site_dst": ("site", "dst"),
        "first_user_site": ("user", "site"),
    }.items():
        g = base.group_by(*keys).aggregate(fid=earliest(base.event_id, base.ts, 1)[0])
        n = n.inner_join(g, list(keys)).mutate(**{name: lambda r: r.event_id == r.fid})
        n = n.drop("fid")
    for name, key in {"user_first": "user", "dst_first": "dst"}.items():
        g = base.group_by(key).aggregate(**{name: base.ts.min()})
        n = n.inner_join(g, key)
    no = [n.ts, n.event_id]
    breadth = ibis.row_number().over(ibis.window(group_by=n.user, order_by=no))
    n = n.mutate(breadth=breadth, narrow=(breadth <= int(ctx.params["max_breadth"])).cast("int64"))
    # Precedent counts only narrow accounts: a scanner or help desk reaching everything is no
    # evidence that a host is commonly used, nor a peer precedent.
    before, no = n.narrow.sum(), [n.ts, n.event_id]
    n = n.mutate(
        dst_before=before.over(ibis.cumulative_window(group_by=n.dst, order_by=no)) - n.narrow,
        peer_before=before.over(ibis.cumulative_window(group_by=[n.peer, n.dst], order_by=no))
        - n.narrow,
        new_today=n.count().over(ibis.window(group_by=[n.user, n.day])),
        collective=n.count().over(ibis.window(group_by=[n.dst, n.day])),
    )
    # Denominators for the words: the accounts seen so far, and each peer group's size.
    users = base.group_by("user", "peer").aggregate(u_first=base.ts.min())
    peers = users.group_by("peer").aggregate(peer_size=users.count())
    n = n.left_join(peers, n.peer == peers.peer).drop("peer_right")
    return n.mutate(n_accounts=users.user.nunique().as_scalar())


def query(ctx: DetectionContext) -> ibis.Table:
    p = ctx.params
    n = features(ctx)
    warm = ibis.interval(days=int(p["warmup_days"]))
    rare = n.filter(
        n.narrow == 1,
        n.src != n.dst,
        n.dst_before <= int(p["max_dst_accounts"]),
        n.peer_before == 0,
        n.collective <= int(p["max_collective"]),
        n.first_site_dst | n.first_user_site,
        # Both ends need a baseline of their own: a new account or a new office is all novelty.
        n.ts >= n.user_first + warm,
        n.ts >= n.dst_first + warm,
    )
    if ctx.data_start is not None:
        rare = rare.filter(rare.ts >= ctx.data_start + timedelta(days=int(p["warmup_days"])))
    return rare.group_by("user", "day").aggregate(
        first_seen=rare.ts.min(),
        last_seen=rare.ts.max(),
        n=rare.count(),
        evidence=earliest(rare.event_id, rare.ts, int(p["max_evidence"])),
        dst_hosts=rare.dst.collect(distinct=True),
        dst_roles=rare.dst_role.collect(distinct=True),
        dst_sites=rare.dst_site.collect(distinct=True),
        src_hosts=rare.src.collect(distinct=True),
        src_sites=rare.src_site.collect(distinct=True),
        max_dst_before=rare.dst_before.max(),
        site_first=rare.first_site_dst.any(),
        new_today=rare.new_today.max(),
        breadth=rare.breadth.min(),
        peer=rare.peer.first(),
        peer_size=rare.peer_size.max(),
        new_site=rare.first_user_site.any(),
        new_src=rare.first_src_dst.all(),
        privileged=rare.privileged.any(),
        n_accounts=rare.n_accounts.max(),
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["user"]
    dst_hosts, roles = vals(row, "dst_hosts"), vals(row, "dst_roles")
    src, src_sites = vals(row, "src_hosts"), vals(row, "src_sites")
    sensitive = sorted(SENSITIVE_ROLES & set(roles))
    privileged = bool(row["privileged"])
    score = 50.0 + (15 if sensitive else 0) + (10 if privileged else 0)
    score += 10 if row["new_site"] else 0
    score += min(10.0, 2.0 * len(dst_hosts))
    pop = int(row["max_dst_before"])
    peer, size = row["peer"], int(row["peer_size"] or 0)
    source = []
    if row["site_first"]:
        source.append(f"no account from {short_list(src_sites)} had reached it before")
    if row["new_site"]:
        source.append(f"{user} had never been used from {short_list(src_sites)}")
    reason = (
        f"First time {user} reached {short_list(dst_hosts)}"
        f"{' (' + ', '.join(sensitive) + ')' if sensitive else ''}, from {short_list(src)} at "
        f"{fmt_ts(row['first_seen'])}: at most {pop} of {row['n_accounts']:,} accounts ever did "
        f"(not counting accounts that reach more than {ctx.params['max_breadth']} hosts), none "
        f"of its {size - 1} peers ({peer}) did, and {'; '.join(source)}. The account had reached "
        f"{row['breadth']} host(s) before; it reached {row['new_today']} new host(s) that day."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} reached {len(dst_hosts)} rare host(s) for the first time",
        severity="high" if score >= 80 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*src, *dst_hosts})),
        sites=tuple(sorted({*src_sites, *vals(row, "dst_sites")})),
        ips=(),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['day']:%Y-%m-%d}",
        actors=(user, *src),
        details={
            "dst_hosts": dst_hosts,
            "dst_roles": roles,
            "max_dst_accounts_before": pop,
            "peer_group": peer,
            "breadth_before": row["breadth"],
            "new_hosts_that_day": row["new_today"],
        },
    )
