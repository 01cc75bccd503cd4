"""Segmentation-policy violation: an access along a path the enterprise's policy does not allow.

The incident this product exists for was machines in overseas offices reaching Japan's servers; a
written policy ("Thailand workstations do not log on to data-centre file servers") turns that into
an alarm on the first event, whatever the credentials. One finding per (account, source, destination
site), judged day by day (a path broken on several days is one finding that goes on); the policy
is compiled into an expression over the events (first matching rule, then ``intra_site``, then
``default``, as ``ashiato.inventory.policy`` decides one path).

A written policy and daily practice drift apart: when many ordinary (unprivileged, human) accounts
break the same rule, that is a standing practice or a gap in the policy, not one intruder per
account. Such accounts (``systemic_accounts`` or more, from any site, reaching one destination
site and role) are reported together as one low-score finding that names them all, so
the queue shows the gap once instead of burying the rare breaks — privileged or service
accounts, whose breaks stay individual — under dozens of look-alike incidents. The peers are
counted up to the end of the judged day (state ``peers``): the first accounts of a practice that
grows over days were alarms when they were alone, and stay so; from the day the practice has
``systemic_accounts`` accounts its breaks are grouped. State ``pairs`` keeps the hosts those
ordinary breaks ran between, so a later flow between them joins the group too.

An admin account used from an overseas office's computer at which its owner (inventory) has just
logged on interactively is most likely the owner on a business trip: still reported, with the
score lowered by 40 and the reason saying so. Intruders with stolen credentials are not sitting
at the owner's keyboard. The owner's last interactive logon at each computer before the judged
day is state (``owner_desk``), so a desk logon before midnight counts for a use after it; a logon
after the judged day cannot lower that day's score.

A slice of several days is judged at once (``multi_day``), each day as it would be alone: its
peers, grouped pairs and desk logons are the state's plus those of the slice's days up to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import ACCESS_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind
from ashiato.inventory.model import PolicyRule

SPEC = DetectorSpec(
    id="segmentation.policy_violation",
    title="Segmentation-policy violation",
    version="5",
    severity="high",
    techniques=("T1021", "T1078"),
    needs=ACCESS_KINDS,
    requires_inventory=True,
    description=(
        "An access (logon, share access, explicit-credential use, network flow) from a site/role "
        "to a site/role that no policy rule allows for that class of account."
    ),
    params=(
        Param(
            "max_evidence", 2000, "Evidence event ids kept per finding (the count is kept whole)."
        ),
        Param(
            "owner_hours",
            12,
            "The account's owner (inventory) logged on interactively at the source computer this "
            "close to the first event: the owner working there (a business trip), score lowered.",
        ),
        Param(
            "systemic_accounts",
            5,
            "Ordinary accounts breaking one site-to-site path before it counts as a standing "
            "practice (one grouped low-score finding); 0 turns grouping off.",
        ),
    ),
    state=(
        StateTable(
            "peers",
            keys={"dst_site": "string", "dst_role": "string", "user": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Ordinary accounts that broke the policy to reach each destination "
            "site and role (the peers that make a path a standing practice).",
        ),
        StateTable(
            "pairs",
            keys={"dst_site": "string", "dst_role": "string", "s_ep": "string", "d_ep": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Source and destination hosts of ordinary accounts' breaks, per "
            "destination site and role (a flow between them is the network's view of one).",
        ),
        StateTable(
            "owner_desk",
            keys={"i_user": "string", "i_host": "string"},
            values={"last_ts": "timestamp('UTC', 6)"},
            combine={"last_ts": "max"},
            description="Each account owner's last interactive logon at each computer.",
        ),
    ),
    multi_day=True,
)


def _rule_hit(rule: PolicyRule, t: ibis.Table) -> ibis.BooleanValue:
    """``rule`` matches the event's path and account (``ashiato.inventory.policy``'s
    ``_rule_matches``, as an expression: the policy is judged in the engine, day after day)."""

    def match(pattern: str, col: ibis.Value) -> ibis.BooleanValue:
        return ibis.literal(True) if pattern == "*" else (col == pattern).fill_null(False)

    where = (
        match(rule.from_site, t.src_site)
        & match(rule.from_role, t.src_role)
        & match(rule.to_site, t.dst_site)
        & match(rule.to_role, t.dst_role)
    )
    sel = rule.accounts
    unknown = ibis.literal(rule.action == "allow")  # an unknown account: the benefit of the doubt
    known = t.account_kind.notnull()  # in the inventory's accounts
    acc: ibis.BooleanValue
    if sel == "any":
        acc = ibis.literal(True)
    elif sel.startswith("user:"):
        acc = t.user.isnull().ifelse(unknown, (t.user == sel[5:].lower()).fill_null(False))
    else:
        if sel == "privileged":
            have = t.privileged.fill_null(False)
        elif sel == "unprivileged":
            have = ~t.privileged.fill_null(False)
        elif sel in ("human", "service"):
            have = (t.account_kind == sel).fill_null(False)
        elif sel.startswith("group:"):
            have = t.groups.contains(sel[6:]).fill_null(False)
        else:
            have = ibis.literal(False)
        acc = known.ifelse(have, unknown)
    return where & acc


def _verdicts(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """``t`` with the policy's verdict per event: ``deny`` (bool) and the ``rule`` deciding it.

    First matching rule wins, then ``intra_site``, then ``default`` (both sites are known)."""
    inv = ctx.inventory
    assert inv is not None  # the runner skips this detector without an inventory
    policy = inv.policy
    same = t.src_site == t.dst_site
    fallback_rule = same.ifelse("intra_site", "default")
    fallback_deny = same.ifelse(policy.intra_site == "deny", policy.default == "deny")
    hits = [_rule_hit(r, t) for r in policy.rules]
    if not hits:
        return t.mutate(deny=fallback_deny, rule=fallback_rule)
    rule = ibis.cases(*[(h, r.name) for h, r in zip(hits, policy.rules, strict=True)])
    deny = ibis.cases(*[(h, r.action == "deny") for h, r in zip(hits, policy.rules, strict=True)])
    return t.mutate(deny=deny.fill_null(fallback_deny), rule=rule.fill_null(fallback_rule))


def _breaks(ctx: DetectionContext) -> ibis.Table:
    """The judged day's successful accesses that the policy denies, with their endpoints and
    whether the account is an ordinary one (unprivileged, human, not a machine)."""
    e = ctx.events
    t = e.filter(
        e.kind.isin([k.value for k in ACCESS_KINDS]) & (e.outcome != "failure"),
        e.src_site.notnull(),
        e.dst_site.notnull(),
    )
    j = _verdicts(ctx, t)
    j = j.filter(j.deny).drop("deny")
    ordinary = (
        j.user.notnull()
        & ~j.user.endswith("$")
        & ~j.privileged.fill_null(False)
        & (j.account_kind.isnull() | (j.account_kind == "human"))
    )
    src = j.src_asset.fill_null(j.src_host).fill_null(j.src_ip)
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    return j.mutate(ordinary=ordinary, s_ep=src, d_ep=dst)


def _peers_of_day(b: ibis.Table) -> ibis.Table:
    o = b.filter(b.ordinary)
    return o.group_by("dst_site", "dst_role", "user").aggregate(first_ts=o.ts.min())


def _pairs_of_day(b: ibis.Table) -> ibis.Table:
    o = b.filter(b.ordinary, b.s_ep.notnull(), b.d_ep.notnull())
    return o.group_by("dst_site", "dst_role", "s_ep", "d_ep").aggregate(first_ts=o.ts.min())


def _interactive(ctx: DetectionContext) -> ibis.Table:
    """The day's interactive logons by the inventory's account owners (who sat where)."""
    inv = ctx.inventory
    owners = sorted({a.owner.lower() for a in inv.accounts if a.owner}) if inv else []
    e = ctx.events
    inter = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type.isin([2, 10, 11]),
        e.user.isin(owners) if owners else ibis.literal(False),
    )
    return inter.select(
        i_user=inter.user, i_host=inter.dst_asset.fill_null(inter.dst_host), i_ts=inter.ts
    ).filter(lambda x: x.i_host.notnull())


def _first_days(state: ibis.Table, slice_rows: ibis.Table, keys: list[str]) -> ibis.Table:
    """Per ``keys``, when first seen: the state's first time (before the slice) or the first
    ``part_day`` of the slice's rows."""
    day = slice_rows.part_day
    both = state.select(*keys, fd=state.first_ts.cast(day.type())).union(
        slice_rows.select(*keys, fd=day)
    )
    return both.group_by(keys).aggregate(fd=both.fd.min())


def query(ctx: DetectionContext) -> ibis.Table:
    j = _breaks(ctx)
    # each event is judged on its UTC day, against the state and the slice's days up to its own
    j = j.mutate(part_day=j.ts.truncate("D"))
    k = int(ctx.params["systemic_accounts"])
    days = j.select(d_day=j.part_day).distinct()
    # Peers are counted over every source site and every day so far (the state's, the slice's up
    # to the judged day): a new office whose first users do what dozens of users elsewhere
    # already do joins that practice instead of raising one alarm each.
    path = ["dst_site", "dst_role"]
    o = j.filter(j.ordinary)
    first = _first_days(ctx.state["peers"], o, [*path, "user"])
    first = first.group_by(*path, "fd").aggregate(n=first.count())
    upto = first.inner_join(days, first.fd <= days.d_day)
    peers = upto.group_by(*path, part_day=upto.d_day).aggregate(
        path_accounts=upto.n.sum().cast("int64")
    )
    j = j.left_join(
        peers,
        [
            j.dst_site.identical_to(peers.dst_site),
            j.dst_role.identical_to(peers.dst_role),
            j.part_day == peers.part_day,
        ],
    ).select(j, peers.path_accounts)
    j = j.mutate(sys_acct=j.ordinary & (j.path_accounts.fill_null(0) >= k))
    # A flow without an account between the same two hosts as a grouped account's access (this
    # day or before) is the network's view of that access: it goes into the group too.
    op = j.filter(j.ordinary, j.s_ep.notnull(), j.d_ep.notnull())
    known = _first_days(ctx.state["pairs"], op, [*path, "s_ep", "d_ep"])
    grouped = peers.filter(peers.path_accounts >= k)
    known = known.inner_join(
        grouped,
        [
            known.dst_site.identical_to(grouped.dst_site),
            known.dst_role.identical_to(grouped.dst_role),
            known.fd <= grouped.part_day,
        ],
    )
    pairs = known.select("s_ep", "d_ep", "part_day").distinct()
    pairs = pairs.mutate(explained=ibis.literal(True))
    j = j.left_join(pairs, ["s_ep", "d_ep", "part_day"]).select(j, pairs.explained)
    flow_explained = j.user.isnull() & j.explained.fill_null(False)
    systemic = (j.sys_acct | flow_explained) & (k > 0)
    j = j.mutate(
        src_key=systemic.ifelse("*", j.s_ep.fill_null("?")),
        user_key=systemic.ifelse("*", j.user.fill_null("")),
    )
    g = j.group_by("user_key", "src_key", "src_site", "dst_site", "part_day").aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        evidence=earliest(j.event_id, j.ts, int(ctx.params["max_evidence"])),
        dst_hosts=j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip).collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        src_hosts=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
        src_roles=j.src_role.collect(distinct=True),
        rules=j.rule.collect(distinct=True),
        kinds=j.kind.collect(distinct=True),
        privileged=j.privileged.max(),
        accounts=j.user.collect(distinct=True),
        path_accounts=j.path_accounts.max(),
        owner=j.owner.max(),
    )
    # The owner at the source computer: an interactive logon of theirs there, close in time (the
    # judged day's logons and those of the slice's days before it, or their last one there
    # before the slice); never a logon of a later day.
    day = _interactive(ctx)
    before = ctx.state["owner_desk"]
    inter = day.union(
        before.select(
            i_user=before.i_user, i_host=before.i_host, i_ts=before.last_ts.cast(day.i_ts.type())
        )
    )
    near = ibis.interval(hours=int(ctx.params["owner_hours"]))
    present = g.inner_join(
        inter,
        [
            g.owner == inter.i_user,
            g.src_key == inter.i_host,
            inter.i_ts >= g.first_seen - near,
            inter.i_ts <= g.first_seen + near,
            inter.i_ts < g.part_day + ibis.interval(days=1),
        ],
    )
    keys = ["user_key", "src_key", "src_site", "dst_site", "part_day"]
    present = present.select(*keys).distinct()
    present = present.mutate(owner_present=ibis.literal(True))
    return g.left_join(present, keys).select(g, present.owner_present)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    b = _breaks(ctx)
    inter = _interactive(ctx)
    return {
        "peers": _peers_of_day(b),
        "pairs": _pairs_of_day(b),
        "owner_desk": inter.group_by("i_user", "i_host").aggregate(last_ts=inter.i_ts.max()),
    }


def _systemic(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    """One low-score finding for a path that many ordinary accounts break (a practice or a gap)."""
    cap = int(ctx.params["max_evidence"])
    accounts = vals(row, "accounts")
    dst_hosts = vals(row, "dst_hosts")
    roles = vals(row, "dst_roles")
    src_hosts = vals(row, "src_hosts")
    score = 30.0 + min(10.0, len(accounts) / 5)
    reason = (
        f"{len(accounts)} ordinary account(s) ({short_list(accounts)}) on {len(src_hosts)} "
        f"host(s) in {row['src_site']} reached {len(dst_hosts)} host(s) in {row['dst_site']} "
        f"({short_list(dst_hosts)}; roles {', '.join(roles) or 'unknown'}) against the policy "
        f"(decided by: {', '.join(vals(row, 'rules'))}): {row['n']} events from "
        f"{fmt_ts(row['first_seen'])} to {fmt_ts(row['last_seen'])}; {row['path_accounts']} "
        f"ordinary accounts from all sites reach such {row['dst_site']} hosts against the policy. "
        "So many accounts doing the same is a standing practice or a gap in the policy rather "
        "than one intruder: fix the policy or suppress; privileged and service accounts on "
        "this path are reported apart."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{row['src_site']} -> {row['dst_site']} broken by {len(accounts)} accounts",
        severity="low",
        score=score,
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=tuple(accounts),
        hosts=tuple(sorted({*src_hosts, *dst_hosts})),
        sites=tuple(sorted({row["src_site"], row["dst_site"]})),
        ips=(),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"*|{row['src_site']}|{row['dst_site']}",
        actors=(),
        details={
            "events": int(row["n"]),
            "accounts": accounts,
            "dst_hosts": dst_hosts,
            "dst_roles": roles,
            "policy_decided_by": vals(row, "rules"),
        },
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    if row["user_key"] == "*":
        return _systemic(row, ctx)
    cap = int(ctx.params["max_evidence"])
    user = row["user_key"] or None
    dst_hosts = vals(row, "dst_hosts")
    roles = vals(row, "dst_roles")
    sensitive = {"file-server", "database", "domain-controller"} & set(roles)
    score = 55.0 + (20 if row["privileged"] else 0) + (15 if sensitive else 0)
    score += min(10.0, len(dst_hosts) * 2.0)
    owner_there = bool(row["owner_present"]) and row["owner"] != user
    if owner_there:
        score -= 40.0
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
    if owner_there:
        reason += (
            f" Its owner {row['owner']} logged on interactively at {row['src_key']} within "
            f"{ctx.params['owner_hours']} h of the first event: most likely the owner working "
            "there (a business trip), so the score is lowered; confirm with the owner."
        )
    if user and row["path_accounts"]:
        reason += (
            f" {row['path_accounts']} ordinary account(s) break the policy to reach these "
            f"{row['dst_site']} hosts in all."
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
            "owner_present": owner_there,
        },
    )
