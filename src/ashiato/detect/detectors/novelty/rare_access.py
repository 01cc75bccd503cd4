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

It is judged one UTC day at a time against its state, the summaries of the days before: each
pair's last access (the previous access of a pair's first event of the day), the first-seen sets
(source and host, site and host, account and site, account, host), the cumulative counts
(each account's new pairs, each host's and each (peer group, host)'s new pairs by narrow
accounts), and which accounts each peer group has had. The words' denominators (accounts seen,
peer group sizes) count up to the end of the judged day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.bursts import warmup_end
from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param, Stage, staged
from ashiato.detect.state import StateTable

_FIRSTS = {"src_dst": ("src", "dst"), "site_dst": ("site", "dst"), "user_site": ("user", "site")}
"""Whether an event is the first of its (source, host), (site, host) or (account, site)."""


SPEC = DetectorSpec(
    id="novelty.rare_access",
    title="First-seen rare access",
    version="3",
    severity="medium",
    techniques=("T1078", "T1021"),
    multi_day=True,
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
    state=(
        StateTable(
            "pair_last",
            keys={"user": "string", "dst": "string"},
            values={"last_ts": "timestamp('UTC', 6)"},
            combine={"last_ts": "max"},
            description="Each (account, destination) pair's last access.",
        ),
        StateTable(
            "firsts",
            keys={"set": "string", "a": "string", "b": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="First-seen sets: when each (source, host) (set src_dst), (site, host) "
            "(site_dst) and (account, site) (user_site) was first seen, as (a, b).",
        ),
        StateTable(
            "users",
            keys={"user": "string"},
            values={"first_ts": "timestamp('UTC', 6)", "n_new": "int64"},
            combine={"first_ts": "min", "n_new": "sum"},
            description="Each account's first use, and how many new pairs (onsets) it made: its "
            "breadth.",
        ),
        StateTable(
            "dsts",
            keys={"dst": "string"},
            values={"first_ts": "timestamp('UTC', 6)", "narrow": "int64"},
            combine={"first_ts": "min", "narrow": "sum"},
            description="Each destination's first access, and how many of its new pairs were "
            "made by narrow accounts (at most ``max_breadth`` new pairs before).",
        ),
        StateTable(
            "peer_dst",
            keys={"peer": "string", "dst": "string"},
            values={"narrow": "int64"},
            combine={"narrow": "sum"},
            description="New pairs made by narrow accounts, per peer group and destination.",
        ),
        StateTable(
            "user_peer",
            keys={"user": "string", "peer": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Which accounts were seen in which peer group (its size).",
        ),
    ),
)

SENSITIVE_ROLES = frozenset({"file-server", "database", "domain-controller"})


def _base(ctx: DetectionContext) -> ibis.Table:
    """The day's successful credential uses of named hosts by judged accounts."""
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
    # Only what the detector reads: the new pairs are a sort of the day's uses, and every
    # column carried is copied through it (at 29,000 terminals, a third of the stage's time).
    return t.select(
        "event_id",
        "ts",
        "user",
        "src_site",
        "dst_site",
        "dst_role",
        "privileged",
        dst=t.dst_asset.fill_null(t.dst_host),
        src=src,
        site=t.src_site.fill_null("?"),
        peer=peer,
        day=t.ts.truncate("D"),
    )


def _novel(ctx: DetectionContext, base: ibis.Table) -> ibis.Table:
    """The day's new (account, destination) pairs (none before, or none in the look-back
    window), each with the account's breadth: how many new pairs it had before this one."""
    p = ctx.params
    pl = ctx.state["pair_last"].rename(pl_user="user", pl_dst="dst")
    users = ctx.state["users"]
    # (a stored sum may come back wider than declared: DuckDB sums int64 into a 128-bit integer)
    users = users.select(u_user=users.user, before=users.n_new.cast("int64"))
    lookback = ibis.interval(days=int(p["lookback_days"]))
    # Only a pair's first use in the slice, or any use of a pair whose uses in the slice span
    # more than the look-back, can be new. A slice is a day, so that is one row per pair: the
    # sort per pair below runs over the pairs, not over every credential use of the day.
    g = base.group_by(g_user=base.user, g_dst=base.dst).aggregate(
        g_first=earliest(base.event_id, base.ts, 1)[0],
        g_min=base.ts.min(),
        g_max=base.ts.max(),
    )
    c = base.inner_join(g, [base.user == g.g_user, base.dst == g.g_dst])
    c = c.filter((c.event_id == c.g_first) | (c.g_max > c.g_min + lookback)).select(*base.columns)
    order = [c.ts, c.event_id]
    t = c.mutate(prev_in=c.ts.lag().over(ibis.window(group_by=[c.user, c.dst], order_by=order)))
    t = t.left_join(pl, [t.user == pl.pl_user, t.dst == pl.pl_dst])
    t = t.mutate(prev_pair=t.prev_in.fill_null(t.last_ts))
    n = t.filter(t.prev_pair.isnull() | (t.ts > t.prev_pair + lookback))
    n = n.left_join(users, n.user == users.u_user)
    w = ibis.window(group_by=n.user, order_by=[n.ts, n.event_id])
    n = n.mutate(breadth=n.before.fill_null(0) + ibis.row_number().over(w))
    n = n.mutate(narrow=(n.breadth <= int(p["max_breadth"])).cast("int64"))
    return n.drop("prev_in", "last_ts", "pl_user", "pl_dst", "u_user", "before")


def _novel_pairs(ctx: DetectionContext) -> ibis.Table:
    return _novel(ctx, _base(ctx))


STAGES: dict[str, Stage] = {"novel": _novel_pairs}
"""The day's new pairs (a sort of its credential uses per pair), read by ``query`` and three
folds: made once per slice (``staged``)."""


def _new_user_peers(ctx: DetectionContext, base: ibis.Table) -> ibis.Table:
    """The day's (account, peer group) pairs not seen before."""
    up = ctx.state["user_peer"]
    d = base.group_by("user", "peer").aggregate(first_ts=base.ts.min())
    old = up.select(o_user=up.user, o_peer=up.peer, seen=up.first_ts)
    # a peer group may be unknown (null): it is one group, as a window over it would make it
    d = d.left_join(old, [d.user == old.o_user, d.peer.identical_to(old.o_peer)])
    return d.filter(d.seen.isnull()).select("user", "peer", "first_ts")


def _firsts(ctx: DetectionContext, base: ibis.Table, name: str) -> ibis.Table:
    """The ids of the day's events that are the first ever of their ``_FIRSTS[name]`` keys."""
    ka, kb = _FIRSTS[name]
    g = base.group_by(ka, kb).aggregate(fid=earliest(base.event_id, base.ts, 1)[0])
    old = ctx.state["firsts"]
    old = old.filter(old.set == name)
    g = g.left_join(old, [g[ka] == old.a, g[kb] == old.b])
    return g.filter(g.first_ts.isnull()).select(**{"fid_" + name: g.fid})


def _first_ts(ctx: DetectionContext, base: ibis.Table, key: str, table: str) -> ibis.Table:
    """Each ``key``'s first use: from the state, else the day's first."""
    g = base.group_by(key).aggregate(today=base.ts.min())
    old = ctx.state[table]
    old = old.select(o_key=old[key], seen=old.first_ts)
    g = g.left_join(old, g[key] == old.o_key)
    return g.select(**{"k_" + key: g[key], key + "_first": g.seen.fill_null(g.today)})


def features(ctx: DetectionContext) -> ibis.Table:
    """The day's new (account, destination) pairs with their rarity features (one row per pair
    onset), judged against the state of the days before."""
    st = ctx.state
    base = _base(ctx)
    # Only the pair's previous access needs a window (a sort per pair); whether an event is the
    # first of its (source, host), (site, host) or (account, site), and when an account or a
    # host was first seen, are hash aggregates joined onto the few new pairs afterwards: at
    # 100 M events each extra window was a full sort of the credential events that spilled.
    n = staged(ctx, "novel", _novel_pairs)
    firsts = {name: _firsts(ctx, base, name) for name in _FIRSTS}
    uf, df = _first_ts(ctx, base, "user", "users"), _first_ts(ctx, base, "dst", "dsts")
    dsts, pd = st["dsts"], st["peer_dst"]
    dsts = dsts.select(o_dst=dsts.dst, dst_old=dsts.narrow.cast("int64"))
    pd = pd.select(p_peer=pd.peer, p_dst=pd.dst, peer_old=pd.narrow.cast("int64"))
    # Denominators for the words: the accounts seen so far, and each peer group's size so far.
    known = st["user_peer"].select("user", "peer")
    fresh = _new_user_peers(ctx, base).select("user", "peer")
    members = known.union(fresh)
    sizes = members.group_by(s_peer=members.peer).aggregate(peer_size=members.count())
    j = n
    for name, f in firsts.items():
        j = j.left_join(f, n.event_id == f["fid_" + name])
    j = (
        j.inner_join(uf, n.user == uf.k_user)
        .inner_join(df, n.dst == df.k_dst)
        .left_join(dsts, n.dst == dsts.o_dst)
        .left_join(pd, [n.peer.identical_to(pd.p_peer), n.dst == pd.p_dst])
        .left_join(sizes, n.peer == sizes.s_peer)
    )
    n = j.select(
        *n.columns,
        *(j["fid_" + name].notnull().name("first_" + name) for name in _FIRSTS),
        "user_first",
        "dst_first",
        "peer_size",
        dst_old=j.dst_old.fill_null(0),
        peer_old=j.peer_old.fill_null(0),
    )
    # Precedent counts only narrow accounts: a scanner or help desk reaching everything is no
    # evidence that a host is commonly used, nor a peer precedent.
    before, no = n.narrow.sum(), [n.ts, n.event_id]
    accounts = st["users"].select("user").union(base.select("user"), distinct=True)
    return n.mutate(
        dst_before=n.dst_old
        + before.over(ibis.cumulative_window(group_by=n.dst, order_by=no))
        - n.narrow,
        peer_before=n.peer_old
        + before.over(ibis.cumulative_window(group_by=[n.peer, n.dst], order_by=no))
        - n.narrow,
        new_today=n.count().over(ibis.window(group_by=[n.user, n.day])),
        collective=n.count().over(ibis.window(group_by=[n.dst, n.day])),
        n_accounts=accounts.count().as_scalar(),
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    base = _base(ctx)
    n = staged(ctx, "novel", _novel_pairs)
    out = {
        "pair_last": base.group_by("user", "dst").aggregate(last_ts=base.ts.max()),
        "user_peer": _new_user_peers(ctx, base),
    }
    firsts = [
        base.group_by(set=ibis.literal(name), a=base[ka], b=base[kb]).aggregate(
            first_ts=base.ts.min()
        )
        for name, (ka, kb) in _FIRSTS.items()
    ]
    out["firsts"] = ibis.union(*firsts)
    u = base.group_by("user").aggregate(first_ts=base.ts.min())
    un = n.group_by("user").aggregate(k=n.count())
    u = u.left_join(un, "user")
    out["users"] = u.select("user", "first_ts", n_new=u.k.fill_null(0))
    d = base.group_by("dst").aggregate(first_ts=base.ts.min())
    dn = n.group_by("dst").aggregate(k=n.narrow.sum())
    d = d.left_join(dn, "dst")
    out["dsts"] = d.select("dst", "first_ts", narrow=d.k.fill_null(0))
    out["peer_dst"] = n.group_by("peer", "dst").aggregate(narrow=n.narrow.sum())
    return out


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
        rare = rare.filter(rare.ts >= warmup_end(ctx, int(p["warmup_days"])))
    return rare.group_by("user", "day", part_day=rare.day).aggregate(
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
        # the peer group of the day's first rare access (an unknown account's peers are its
        # source site's accounts, which may differ between its accesses)
        peer=rare.peer.first(order_by=[rare.ts, rare.event_id]),
        peer_size=rare.peer_size.first(order_by=[rare.ts, rare.event_id]),
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
