"""Impossible travel inside the company: one account used from two countries too close in time.

Every office in the inventory sits in a country. A person can be in Tokyo in the morning and in
Bangkok in the evening, but not in both within an hour: the quickest trip between two of the
company's offices in different countries takes longer than ``min_travel_hours`` (4 by default: a
design choice, no door-to-door journey between these offices is shorter). For each account, its
successful credential events (logons, explicit credentials, share access, Kerberos tickets) are
ordered by time; two consecutive ones whose sources sit in different countries, closer than that,
mean two people hold the credential, or one of them is not where the account's owner is. Machine
accounts (``HOST$``) and service accounts are left out: their jobs run from every site by design.
A business trip is not flagged: the flight between the last use at home and the first abroad is
longer than the threshold.

When the account, or the person who owns it, logged on at the keyboard (interactive or cached
logon) of one side's source host that day or the day before, that side is the owner at their
desk, and the other side is someone else holding the credential: the finding says so, makes only
the other side its actors, and flags ``rival_actors`` so that incident grouping does not join the
owner's own work (their business trip) to the intruder's through the shared account.

It is judged one UTC day at a time: its state is each account's last use (the use before an
account's first of the day, whose switch may cross midnight), and the day before the judged one is
read as context for the owner's desk logons.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import ibis

from ashiato.detect.common import CREDENTIAL_KINDS, earliest, fmt_ts, short_list, vals
from ashiato.detect.incidents import RIVALS
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

_PREV = {
    "p_ts": "ts",
    "p_id": "event_id",
    "p_site": "src_site",
    "p_country": "src_country",
    "p_src": "src",
    "p_ip": "src_ip",
    "p_dst": "dst",
    "p_role": "dst_role",
}
"""The previous use's columns each judged use carries, and the columns they come from."""

_PREV_TYPE = "struct<" + ", ".join(f"{n}: string" for n in list(_PREV)[1:]) + ">"


SPEC = DetectorSpec(
    id="travel.concurrent_sites",
    title="Account used from two countries closer in time than travel allows",
    version="4",
    severity="high",
    techniques=("T1078", "T1078.002"),
    multi_day=True,
    needs=CREDENTIAL_KINDS,
    requires_inventory=True,
    description=(
        "An account's credentials are used from sites in two different countries within a "
        "shorter time than travelling between them takes."
    ),
    params=(
        Param(
            "min_travel_hours",
            4,
            "Quickest journey between offices in different countries; closer uses are flagged.",
        ),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "last_use",
            keys={"user": "string"},
            values={"p_ts": "timestamp('UTC', 6)", "prev": _PREV_TYPE},
            # one struct, not a column each: DuckDB's arg_max passes over null values, so a
            # null role or address would be taken from an older use
            combine={"p_ts": "max", "prev": "last:p_ts"},
            description="Each judged account's last use (time; event, source and destination): "
            "the previous use of its first use of a day.",
        ),
    ),
    context_days=1,
)

SENSITIVE = {"file-server", "database", "domain-controller"}


def _judged(ctx: DetectionContext) -> ibis.Table:
    """The judged day's successful credential uses by personal accounts, source country known."""
    e = ctx.events
    t = e.filter(
        e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
        e.outcome != "failure",
        e.user.notnull(),
        ~e.user.endswith("$"),
        e.account_kind.fill_null("") != "service",
        e.src_site.notnull(),
        e.src_country.notnull(),
    )
    if ctx.slice_start is not None:  # the day before is context only (the owner's desk)
        t = t.filter(t.ts >= ctx.slice_start)
    return t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host).fill_null(t.dst_ip),
    )


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    t = _judged(ctx)
    w = ibis.window(group_by=t.user, order_by=[t.ts, t.event_id])
    t = t.mutate(**{name: t[col].lag().over(w) for name, col in _PREV.items()})
    # The account's first use of the day follows its last use of an earlier day (the state).
    last = ctx.state["last_use"]
    last = last.select(
        l_user=last.user,
        l_p_ts=last.p_ts,
        **{"l_" + name: last.prev[name] for name in list(_PREV)[1:]},
    )
    t = t.left_join(last, t.user == last.l_user)
    first = t.p_ts.isnull()
    t = t.mutate(**{name: ibis.ifelse(first, t["l_" + name], t[name]) for name in _PREV}).drop(
        "l_user", *("l_" + name for name in _PREV)
    )
    span = ibis.interval(hours=int(p["min_travel_hours"]))
    pairs = t.filter(
        t.p_country.notnull(), t.p_country != t.src_country, t.ts < t.p_ts + span
    ).mutate(
        day=lambda r: r.ts.truncate("D"),
        gap_s=lambda r: (r.ts.epoch_seconds() - r.p_ts.epoch_seconds()).cast("float64"),
    )
    closest = pairs.group_by("user", "day").aggregate(
        n_pairs=pairs.count(),
        gap_s=pairs.gap_s.min(),
        a_ts=pairs.p_ts.argmin(pairs.gap_s),
        a_site=pairs.p_site.argmin(pairs.gap_s),
        a_country=pairs.p_country.argmin(pairs.gap_s),
        a_src=pairs.p_src.argmin(pairs.gap_s),
        b_ts=pairs.ts.argmin(pairs.gap_s),
        b_site=pairs.src_site.argmin(pairs.gap_s),
        b_country=pairs.src_country.argmin(pairs.gap_s),
        b_src=pairs.src.argmin(pairs.gap_s),
        privileged=pairs.privileged.max(),
        home_site=pairs.home_site.max(),
        owner=pairs.owner.max(),
    )
    # Both events of every flagged pair are evidence (an event may close one pair and open the
    # next: keep it once).
    cols = ("user", "day", "eid", "ets", "site", "country", "src", "ip", "dst", "role")
    earlier = pairs.select(
        "user",
        "day",
        eid=pairs.p_id,
        ets=pairs.p_ts,
        site=pairs.p_site,
        country=pairs.p_country,
        src=pairs.p_src,
        ip=pairs.p_ip,
        dst=pairs.p_dst,
        role=pairs.p_role,
    )
    later = pairs.select(
        "user",
        "day",
        eid=pairs.event_id,
        ets=pairs.ts,
        site=pairs.src_site,
        country=pairs.src_country,
        src=pairs.src,
        ip=pairs.src_ip,
        dst=pairs.dst,
        role=pairs.dst_role,
    )
    sides = earlier.select(*cols).union(later.select(*cols)).distinct()
    sides = sides.mutate(
        site_src=sides.site + " (" + sides.country + "): " + sides.src,
        country_role=sides.country + "|" + sides.role.fill_null(""),
    )
    ev = sides.group_by("user", "day").aggregate(
        first_seen=sides.ets.min(),
        last_seen=sides.ets.max(),
        n=sides.count(),
        evidence=earliest(sides.eid, sides.ets, int(p["max_evidence"])),
        sites=sides.site.collect(distinct=True),
        countries=sides.country.collect(distinct=True),
        site_srcs=sides.site_src.collect(distinct=True),
        src_ips=sides.ip.collect(distinct=True),
        src_ip_pairs=(sides.src + "|" + sides.ip.fill_null("")).collect(distinct=True),
        dsts=sides.dst.collect(distinct=True),
        country_roles=sides.country_role.collect(distinct=True),
    )
    ev = ev.left_join(_owner_desks(e, sides, t), ["user", "day"]).select(ev, "owner_desks")
    out = closest.inner_join(ev, [closest.user == ev.user, closest.day == ev.day]).select(
        closest, *[ev[c] for c in ev.columns if c not in ("user", "day")]
    )
    return out.mutate(part_day=out.day)


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    t = _judged(ctx)
    w = ibis.window(group_by=t.user, order_by=[t.ts.desc(), t.event_id.desc()])
    t = t.mutate(k=ibis.row_number().over(w))
    t = t.filter(t.k == 0)
    prev = ibis.struct({name: t[col].cast("string") for name, col in list(_PREV.items())[1:]})
    return {"last_use": t.select("user", p_ts=t.ts, prev=prev)}


def _owner_desks(e: ibis.Table, sides: ibis.Table, t: ibis.Table) -> ibis.Table:
    """Per (account, day): the sides' source hosts at whose keyboard the account or its owner
    logged on (interactive or cached) that day or the day before: the owner at their desk."""
    desk = e.filter(
        (e.kind == EventKind.LOGON.value) & e.logon_type.isin([2, 11]) & (e.outcome != "failure")
    )
    desk = desk.select(
        d_user=desk.user,
        d_host=desk.dst_asset.fill_null(desk.dst_host),
        d_day=desk.ts.truncate("D"),
    ).distinct()
    owners = t.select(o_user=t.user, o_owner=t.owner).distinct()
    s = sides.select("user", "day", "src").distinct()
    s = s.left_join(owners, s.user == owners.o_user).select(s, owners.o_owner)
    at = s.inner_join(
        desk,
        [
            desk.d_host == s.src,
            (desk.d_user == s.user) | (desk.d_user == s.o_owner),
            desk.d_day <= s.day,
            desk.d_day >= s.day - ibis.interval(days=1),
        ],
    )
    at = at.select("user", "day", "src").distinct()
    return at.group_by("user", "day").aggregate(owner_desks=at.src.collect(distinct=True))


def _gap(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    hours = ctx.params["min_travel_hours"]
    user = row["user"]
    inv = ctx.inventory
    home_site = row["home_site"]
    home = inv.site(home_site) if inv is not None and home_site else None
    home_country = home.country if home is not None else None
    countries = vals(row, "countries")
    # The far side is whatever is not in the account's home country (both, when unknown).
    far = [c for c in countries if c != home_country] or countries
    far_roles = {
        cr.split("|", 1)[1] for cr in vals(row, "country_roles") if cr.split("|", 1)[0] in far
    }
    sensitive = sorted(SENSITIVE & far_roles)
    privileged = bool(row["privileged"])
    score = 70.0 + (15 if privileged else 0) + (10 if sensitive else 0)
    a_ts: datetime = row["a_ts"]
    b_ts: datetime = row["b_ts"]
    sites, dsts = vals(row, "sites"), vals(row, "dsts")
    reason = (
        f"{user}{' (privileged)' if privileged else ''}"
        f"{f', home site {home_site}' if home_site else ''} was used from {row['a_src']} in "
        f"{row['a_site']} ({row['a_country']}) at {fmt_ts(a_ts)} and from {row['b_src']} in "
        f"{row['b_site']} ({row['b_country']}) at {fmt_ts(b_ts)}, {_gap(row['gap_s'])} apart: "
        f"less than the {hours} h that travel between offices in different countries takes. "
        f"That day {row['n_pairs']} such switch(es) between {', '.join(sites)}; sources "
        f"{short_list(vals(row, 'site_srcs'))}; reaching {short_list(dsts) or 'unknown hosts'}"
        + (f" (on the far side: {', '.join(sensitive)})" if sensitive else "")
        + "."
    )
    # The owner at their desk on one side: the other side is someone else with the credential.
    desks = set(vals(row, "owner_desks"))
    pairs = [x.split("|", 1) for x in vals(row, "src_ip_pairs")]
    others = [(src, ip) for src, ip in pairs if src not in desks]
    rivals = bool(desks) and bool(others)
    if rivals:
        score += 5
        reason += (
            f" The owner was at the keyboard of {short_list(sorted(desks))} (interactive logon "
            f"that day): the use from {short_list(sorted({s for s, _ in others}))} is someone "
            "else holding the credential."
        )
        actors = (user, *sorted({x for s, ip in others for x in (s, ip) if x}))
    else:
        actors = (user, *sorted({x for s, ip in pairs for x in (s, ip) if x}))
    evidence = list(row["evidence"])
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} used from {' and '.join(countries)} within {_gap(row['gap_s'])}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({row["a_src"], row["b_src"], *dsts})),
        sites=tuple(sites),
        ips=tuple(vals(row, "src_ips")),
        reason=reason,
        evidence=tuple(evidence[:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['day'].date().isoformat()}",
        actors=actors,
        details={
            RIVALS: rivals,  # the owner at one side's desk: two parties, kept apart
            "owner_at": sorted(desks),
            "gap_seconds": row["gap_s"],
            "switches": row["n_pairs"],
            "countries": countries,
            "far_side_sensitive": sensitive,
            "owner": row["owner"],
        },
    )
