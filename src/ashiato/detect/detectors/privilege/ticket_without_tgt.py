"""Pass-the-ticket: service tickets for an account from an address where it obtained no TGT.

A Kerberos client asks the domain controller for a ticket-granting ticket (4768) and then, with
it, for service tickets (4769), both from its own address. A stolen TGT imported on another host
(mimikatz ``kerberos::ptt``, Rubeus ``ptt``) skips the first step: the DC sees service tickets
for user U requested from address A, yet U obtained no TGT from A while one could still be valid
(``ticket_lifetime_hours``, 10; or, since renewals (4770) are not read, ``renewal_days``, 7), and
U's credentials were not on the host at A in that window: no logon there (interactive, unlock,
RDP, cached, batch or service) and no 4648 there (runas). The host at A is the one whose machine
account ``HOST$`` asks for tickets from A, or the inventory's asset with that address. Such
tickets raise a finding when Kerberos network logons (4624 type 3, not NTLM) as U from A follow
within ``follow_minutes`` (60), or on their own when there are at least ``min_tickets`` (3) of
them in a day. The owner's activity elsewhere is never consulted: they may be at their desk or
idle.

A technique signature, not a baseline: no warm-up. Three guards keep it to what the data can
show. A TGT may have been obtained before the data starts: tickets within the first TGT validity
(the longer of the lifetime and the renewal window) after the data's start for that address (its
first Kerberos event) are not judged. An account whose TGTs the store has not shown before the
ticket is not judged (its AS exchanges are logged on a DC whose logs are missing). And an address
where U obtained a TGT or had its credentials within ``own_address_days`` (30) is U's own
machine. Machine accounts (``$``) are skipped, as are the domain controllers' own addresses
(loopback, an address a KDC's own machine account asks from, a domain-controller asset).
Delegation (S4U, a service asking on a user's behalf) can look the same.

Judged in slices of days against its state, each day as if alone (what is known at the end of
the ticket's day: the state and the slice's days up to it): each account's last TGT per address
and first TGT, each address's first Kerberos event, the KDCs' addresses, the host at each
address, each account's last logon or 4648 per host (what clears a ticket within
``own_address_days``), and ``waiting``: the uncleared tickets of an (account, address) with one
within ``follow_minutes`` (at least 5, the clock skew) of midnight, judged the next day with
events (in the slice, or the next slice's first) with the logons that followed and a TGT logged
just after (``context_days=1`` shows the day before the slice; ``follow_minutes`` is at most a
day).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param, Stage, staged
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

_TS = "timestamp('UTC', 6)"
_KERBEROS = [EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]
_TICKET = {
    "user": "string",
    "src_ip": "string",
    "ts": _TS,
    "service": "string",
    "src_asset": "string",
    "src_site": "string",
    "log_host": "string",
    "privileged": "boolean",
}


SPEC = DetectorSpec(
    id="privilege.ticket_without_tgt",
    title="Service tickets without a TGT from that address (pass-the-ticket)",
    version="3",
    severity="high",
    techniques=("T1550.003",),
    # TGTs and 4648s are read only to clear tickets (tests/detect/test_needs.py's QUALIFIERS).
    needs=(EventKind.KERBEROS_SERVICE, EventKind.LOGON),
    requires_inventory=False,
    description=(
        "Service tickets for an account requested from an address where that account obtained "
        "no TGT that could still be valid and had no logon, followed by network logons from "
        "that address, or many of them."
    ),
    params=(
        Param("ticket_lifetime_hours", 10, "How long a TGT lasts: the window a 4768 is sought in."),
        Param(
            "renewal_days",
            7,
            "How long a TGT can be renewed (4770, not read): a 4768 this recent counts too; "
            "0 for the lifetime alone.",
        ),
        Param(
            "own_address_days",
            30,
            "A TGT from the address, or the account's logon at its host, this many days before "
            "marks the address as the account's own machine (0: off).",
        ),
        Param("follow_minutes", 60, "Network logons as the account from the address this soon."),
        Param("min_tickets", 3, "Such service tickets in a day that raise on their own."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
    state=(
        StateTable(
            "tgt_last",
            keys={"user": "string", "ip": "string"},
            values={"last_ts": _TS},
            combine={"last_ts": "max"},
            description="Each account's last TGT from each address.",
        ),
        StateTable(
            "tgt_first",
            keys={"user": "string"},
            values={"first_ts": _TS},
            combine={"first_ts": "min"},
            description="Each account's first TGT in the store.",
        ),
        StateTable(
            "ip_first",
            keys={"ip": "string"},
            values={"since": _TS},
            combine={"since": "min"},
            description="Each address's first Kerberos event (its data's start).",
        ),
        StateTable(
            "kdc",
            keys={"ip": "string"},
            values={"first_ts": _TS},
            combine={"first_ts": "min"},
            description="The KDCs' own addresses (a DC's machine account asks from them).",
        ),
        StateTable(
            "hosts",
            keys={"ip": "string", "host": "string"},
            values={"first_ts": _TS},
            combine={"first_ts": "min"},
            description="The host at each address (its machine account, the inventory's asset).",
        ),
        StateTable(
            "owner_last",
            keys={"user": "string", "host": "string"},
            values={"last_ts": _TS},
            combine={"last_ts": "max"},
            description="Each account's last logon or 4648 on each host.",
        ),
        StateTable(
            "waiting",
            keys={"event_id": "string"},
            values={**_TICKET, "judged": "boolean"},
            combine={
                **{c: "first:ts" if c != "ts" else "min" for c in _TICKET},
                "judged": "bool_or",
            },
            description=(
                "Uncleared service tickets of an (account, address) with one close to midnight, "
                "judged the next day (a TGT logged late, logons that follow)."
            ),
        ),
    ),
    context_days=1,
    multi_day=True,
)

_LOOPBACK = ["127.0.0.1", "::1"]
_OWNER_TYPES = [2, 4, 5, 7, 10, 11]  # interactive, batch, service, unlock, RDP, cached
_SKEW = ibis.interval(minutes=5)  # DCs' clocks and log order: a TGT logged a moment late
_SENSITIVE = {"file-server", "database", "domain-controller"}


def _windows(ctx: DetectionContext) -> tuple[Any, Any, Any, Any]:
    """(blind, life, follow, settle): how long a TGT before the data may live, how far back a
    TGT or the owner's logon clears a ticket, how soon logons follow, and how close to midnight
    a ticket waits for the next day (its follow-up and a TGT logged late run into it)."""
    p = ctx.params
    valid = max(float(p["ticket_lifetime_hours"]), 24.0 * float(p["renewal_days"]))
    blind = ibis.interval(minutes=int(valid * 60))  # a TGT before the data may live this long
    life = ibis.interval(minutes=int(max(valid, 24.0 * float(p["own_address_days"])) * 60))
    minutes = int(p["follow_minutes"])
    if not 0 <= minutes <= 24 * 60:
        raise ValueError(f"{SPEC.id}: follow_minutes must lie between 0 and 1440, not {minutes}")
    settle = ibis.interval(minutes=max(minutes, 5))
    return blind, life, ibis.interval(minutes=minutes), settle


_DAY = ibis.interval(days=1)


def _today(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    """``t``'s rows of the judged days (the slice; the day before it is context)."""
    assert ctx.slice_start is not None
    return t.filter(t.ts >= ctx.slice_start)


def _kerberos(ctx: DetectionContext) -> ibis.Table:
    """The judged days' TGTs and service tickets with an address."""
    e = _today(ctx, ctx.events)
    return e.filter(e.kind.isin(_KERBEROS), e.outcome != "failure", e.src_ip.notnull())


def _kdc(k: ibis.Table) -> ibis.Table:
    """Addresses of the KDCs themselves: where a DC's own machine account asks from."""
    kdc = k.filter(k.user.endswith("$"), k.user == k.log_host.lower().split(".")[0] + "$")
    return kdc.group_by(ip=kdc.src_ip).aggregate(first_ts=kdc.ts.min())


def _hosts(k: ibis.Table) -> ibis.Table:
    """The host at each address: machine accounts asking from it, and the inventory's asset."""
    m = k.filter(k.user.endswith("$"))
    hosts = m.select(ip=m.src_ip, host=m.user.re_replace(r"\$$", ""), ts=m.ts)
    a = k.filter(k.src_asset.notnull())
    hosts = hosts.union(a.select(ip=a.src_ip, host=a.src_asset, ts=a.ts), distinct=False)
    return hosts.group_by("ip", "host").aggregate(first_ts=hosts.ts.min())


def _owners(ctx: DetectionContext) -> ibis.Table:
    """The judged days' credentials of an account on a host: a logon there (interactive,
    unlock, RDP, cached, batch, service) or a process supplying them there (4648, runas)."""
    e = _today(ctx, ctx.events)
    lg = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type.isin(_OWNER_TYPES),
    )
    lg = lg.select("user", "ts", host=lg.dst_host.fill_null(lg.log_host).lower())
    ex = e.filter(e.kind == EventKind.EXPLICIT_CREDENTIALS.value)
    ex = ex.select("user", "ts", host=ex.src_host.fill_null(ex.log_host).lower())
    return lg.union(ex, distinct=False)


def _tgts(k: ibis.Table) -> ibis.Table:
    tgt = k.filter(k.kind == EventKind.KERBEROS_TGT.value)
    return tgt.select(g_user=tgt.user, g_ip=tgt.src_ip, g_ts=tgt.ts, g_day=tgt.ts.truncate("D"))


def _tgt_cleared(t: ibis.Table, tgt: ibis.Table, life: Any, on: str) -> ibis.Table:
    """``t`` without tickets whose account obtained a TGT from that address that could still be
    valid, logged on the day in ``t``'s column ``on`` (``tgt``: TGTs as (g_user, g_ip, g_ts,
    g_day))."""
    return t.anti_join(
        tgt,
        [
            t.user == tgt.g_user,
            t.src_ip == tgt.g_ip,
            tgt.g_day == t[on],
            tgt.g_ts >= t.ts - life,
            tgt.g_ts <= t.ts + _SKEW,
        ],
    )


def _last_before(keys: ibis.Table, hist: ibis.Table) -> ibis.Table:
    """Per (k_user, k_ip, k_day) of ``keys``, the latest ``h_last`` of ``hist`` (h_user, h_ip,
    h_day, h_last: per-day maxima, the state's on its last day) on a day before ``k_day``."""
    j = keys.inner_join(
        hist, [keys.k_user == hist.h_user, keys.k_ip == hist.h_ip, hist.h_day < keys.k_day]
    )
    return j.group_by("k_user", "k_ip", "k_day").aggregate(p_last=j.h_last.max())


def _candidates(ctx: DetectionContext) -> ibis.Table:
    """The slice's service tickets, each not cleared by what is known at the end of its day:
    the state (the days before the slice), the slice's earlier days and its own day."""
    st = ctx.state
    blind, life, _, _ = _windows(ctx)
    k = _kerberos(ctx)
    t = k.filter(
        k.kind == EventKind.KERBEROS_SERVICE.value,
        k.user.notnull(),
        ~k.user.endswith("$"),
        ~k.src_ip.isin(_LOOPBACK),
        k.src_role.isnull() | (k.src_role != "domain-controller"),
    ).mutate(day=lambda r: r.ts.truncate("D"))
    # the (account, address, day) a clearing fact is looked up for: every ticket's, rather
    # than those left by each step (the same answers; the SQL then holds no step twice)
    keys = t.select(k_user=t.user, k_ip=t.src_ip, k_day=t.day).distinct()
    kdc = st["kdc"].union(_kdc(k))
    t = t.anti_join(kdc, [t.src_ip == kdc.ip, kdc.first_ts < t.day + _DAY])
    # An account's first TGT in the store: before it, an absent 4768 says nothing (its AS
    # exchanges are logged on a DC whose logs are missing, or came before the data). (The
    # slice's later days change neither minimum: their events come after the ticket.)
    tgt = _tgts(k)
    first = (
        st["tgt_first"].select(g_user="user", g_ts="first_ts").union(tgt.select("g_user", "g_ts"))
    )
    known = first.group_by("g_user").aggregate(first_tgt=first.g_ts.min())
    t = t.inner_join(known, [t.user == known.g_user, t.ts > known.first_tgt]).select(t)
    ips = st["ip_first"].union(k.group_by(ip=k.src_ip).aggregate(since=k.ts.min()))
    starts = ips.group_by("ip").aggregate(since=ips.since.min())
    t = t.inner_join(starts, [t.src_ip == starts.ip, t.ts >= starts.since + blind]).select(t)
    # A TGT of the ticket's own day; else the last TGT of an earlier day (state or slice).
    t = _tgt_cleared(t, tgt, life, "day")
    last = st["tgt_last"]
    daily = tgt.group_by(h_user="g_user", h_ip="g_ip", h_day="g_day").aggregate(
        h_last=tgt.g_ts.max()
    )
    hist = last.select(
        h_user=last.user, h_ip=last.ip, h_day=last.last_ts.truncate("D"), h_last=last.last_ts
    ).union(daily.mutate(h_last=daily.h_last.cast(last.last_ts.type())))
    prev = _last_before(keys, hist)
    t = t.anti_join(
        prev,
        [
            t.user == prev.k_user,
            t.src_ip == prev.k_ip,
            t.day == prev.k_day,
            prev.p_last >= t.ts - life,
        ],
    )
    # The account's own credentials on the host at that address, before the ticket: the host
    # at an address as known at the end of the ticket's day.
    hosts = st["hosts"].union(_hosts(k))
    own = _owners(ctx)
    own = own.mutate(day=own.ts.truncate("D"))
    same = own.inner_join(hosts, [own.host == hosts.host, hosts.first_ts < own.day + _DAY]).select(
        own.user, own.ts, own.day, hosts.ip
    )
    t = t.anti_join(
        same,
        [
            t.user == same.user,
            t.src_ip == same.ip,
            t.day == same.day,
            same.ts >= t.ts - life,
            same.ts <= t.ts,
        ],
    )
    seen = st["owner_last"]
    od = own.group_by("user", "host", "day").aggregate(last=own.ts.max())
    ohist = seen.select(
        o_user=seen.user, o_host=seen.host, o_day=seen.last_ts.truncate("D"), o_last=seen.last_ts
    ).union(
        od.select(
            o_user=od.user, o_host=od.host, o_day=od.day, o_last=od.last.cast(seen.last_ts.type())
        )
    )
    at = keys.inner_join(hosts, [keys.k_ip == hosts.ip, hosts.first_ts < keys.k_day + _DAY])
    at = at.select(h_user=at.k_user, h_ip=at.k_ip, k_day=at.k_day, h_host=at.host).distinct()
    oj = at.inner_join(ohist, [at.h_user == ohist.o_user, at.h_host == ohist.o_host])
    oj = oj.select(h_user="h_user", h_ip="h_ip", h_day="o_day", h_last="o_last", k_day="k_day")
    oj = oj.filter(oj.h_day < oj.k_day)
    prev = oj.group_by(k_user=oj.h_user, k_ip=oj.h_ip, k_day=oj.k_day).aggregate(
        p_last=oj.h_last.max()
    )
    t = t.anti_join(
        prev,
        [
            t.user == prev.k_user,
            t.src_ip == prev.k_ip,
            t.day == prev.k_day,
            prev.p_last >= t.ts - life,
        ],
    )
    return t.select(*_TICKET, "event_id", "day")


def _days(ctx: DetectionContext) -> ibis.Table:
    """The slice's days with events (n_day) and the next such day in the slice (next_day):
    each is judged on its own, as one day's run would be, and tickets waiting from one day
    are judged on the next."""
    e = _today(ctx, ctx.events)
    d = e.select(n_day=e.ts.truncate("D")).distinct()
    return d.mutate(next_day=d.n_day.lead().over(ibis.window(order_by=d.n_day)))


def _split(ctx: DetectionContext) -> tuple[ibis.Table, ibis.Table]:
    """The candidates as (settled, waiting): a ticket close to midnight makes its (account,
    address) wait for the next day, where a late TGT may clear it and logons may follow it;
    waiting has ``next_day``, the slice's next day with events (null: after the slice)."""
    _, _, _, settle = _windows(ctx)
    t = staged(ctx, "candidates", _candidates)
    late = t.filter(t.ts + settle >= t.day + _DAY)
    late = late.select(l_user=late.user, l_ip=late.src_ip, l_day=late.day).distinct()
    keys = [t.user == late.l_user, t.src_ip == late.l_ip, t.day == late.l_day]
    waiting = t.semi_join(late, keys)
    days = _days(ctx)
    waiting = waiting.left_join(days, waiting.day == days.n_day).select(waiting, days.next_day)
    return t.anti_join(late, keys), waiting


def _waited(ctx: DetectionContext, waiting: ibis.Table) -> ibis.Table:
    """Tickets that waited for a later day, with the day they are judged on (``part_day``): the
    state's, on the slice's first day; the slice's, on its next day with events. Less those a
    TGT logged just after them (within the clock skew, on that day) clears."""
    assert ctx.slice_start is not None
    _, life, _, _ = _windows(ctx)
    w = ctx.state["waiting"]
    w = w.filter(~w.judged, w.ts < ctx.slice_start)
    day_type = waiting.day.type()
    w = w.select(*_TICKET, "event_id", part_day=ctx.slice_start.cast(day_type))
    mine = waiting.filter(waiting.next_day.notnull())
    mine = mine.select(*_TICKET, "event_id", part_day=mine.next_day.cast(day_type))
    both = w.union(mine.cast(w.schema()))
    return _tgt_cleared(both, _tgts(_kerberos(ctx)), life, "part_day")


STAGES: dict[str, Stage] = {"candidates": _candidates}
"""Read by ``query`` and the ``waiting`` fold: made once per slice (``staged``)."""


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    _, _, follow, _ = _windows(ctx)
    settled, waiting = _split(ctx)
    waited = _waited(ctx, waiting)
    t = settled.select(*_TICKET, "event_id", part_day=settled.day).cast(waited.schema())
    t = t.union(waited)
    t = t.mutate(day=t.ts.truncate("D"))
    cap = int(p["max_evidence"])
    tix = t.group_by("user", "src_ip", "day", "part_day").aggregate(
        first_seen=t.ts.min(),
        last_seen=t.ts.max(),
        n_tickets=t.count(),
        privileged=t.privileged.any(),
        services=t.service.collect(distinct=True),
        srcs=t.src_asset.collect(distinct=True),
        sites=t.src_site.collect(distinct=True),
        dcs=t.log_host.collect(distinct=True),
        evidence=earliest(t.event_id, t.ts, cap),
    )
    # (the day before the judging one is in view: a waiting ticket's logons may have come
    # before midnight; a later day is not)
    net = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type == 3,
        e.auth_package.isnull() | (e.auth_package.upper() != "NTLM"),
    )
    used = t.inner_join(
        net,
        [
            t.user == net.user,
            t.src_ip == net.src_ip,
            net.ts >= t.ts,
            net.ts <= t.ts + follow,
            net.ts >= t.part_day - _DAY,
            net.ts < t.part_day + _DAY,
        ],
    )
    used = used.select(
        user=t.user,
        src_ip=t.src_ip,
        day=t.day,
        part_day=t.part_day,
        lid=net.event_id,
        lts=net.ts,
        dst=net.dst_asset.fill_null(net.dst_host),
        dst_role=net.dst_role,
    ).distinct()
    logons = used.group_by("user", "src_ip", "day", "part_day").aggregate(
        n_logons=used.count(),
        logon_last=used.lts.max(),
        dsts=used.dst.collect(distinct=True),
        dst_roles=used.dst_role.collect(distinct=True),
        logon_evidence=earliest(used.lid, used.lts, cap),
    )
    out = tix.left_join(
        logons,
        [
            tix.user == logons.user,
            tix.src_ip == logons.src_ip,
            tix.day == logons.day,
            tix.part_day == logons.part_day,
        ],
    ).select(
        tix,
        n_logons=logons.n_logons.fill_null(0),
        logon_last=logons.logon_last,
        dsts=logons.dsts,
        dst_roles=logons.dst_roles,
        logon_evidence=logons.logon_evidence,
    )
    return out.filter((out.n_logons > 0) | (out.n_tickets >= int(p["min_tickets"])))


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    assert ctx.slice_start is not None
    k = _kerberos(ctx)
    tgt = k.filter(k.kind == EventKind.KERBEROS_TGT.value)
    own = _owners(ctx)
    _, waiting = _split(ctx)
    w = ctx.state["waiting"]
    judged = w.filter(~w.judged, w.ts < ctx.slice_start)
    cols = [*_TICKET, "event_id"]
    return {
        "tgt_last": tgt.group_by("user", ip=tgt.src_ip).aggregate(last_ts=tgt.ts.max()),
        "tgt_first": tgt.group_by("user").aggregate(first_ts=tgt.ts.min()),
        "ip_first": k.group_by(ip=k.src_ip).aggregate(since=k.ts.min()),
        "kdc": _kdc(k),
        "hosts": _hosts(k),
        "owner_last": own.group_by("user", "host").aggregate(last_ts=own.ts.max()),
        # the slice's waiting tickets (judged when a later day of the slice judged them); those
        # of earlier slices, judged on its first day
        "waiting": waiting.select(*cols, judged=waiting.next_day.notnull()).union(
            judged.select(*cols, judged=ibis.literal(True))
        ),
    }


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    p = ctx.params
    cap = int(p["max_evidence"])
    user, ip = row["user"], row["src_ip"]
    n_t, n_l = int(row["n_tickets"]), int(row["n_logons"])
    srcs, dsts, services = vals(row, "srcs"), vals(row, "dsts"), vals(row, "services")
    sensitive = bool(_SENSITIVE & set(vals(row, "dst_roles")))
    extra = max(0, n_t - int(p["min_tickets"]))
    score = (
        70.0
        + (15 if n_l else 0)
        + (10 if row["privileged"] else 0)
        + (5 if sensitive else 0)
        + min(5, extra)
    )
    last = max(x for x in (row["last_seen"], row["logon_last"]) if x is not None)
    where = f"{ip} ({short_list(srcs)})" if srcs else ip
    then = (
        f"then {n_l} network logon(s) as {user} from {ip} to {short_list(dsts) or 'unknown hosts'}"
        if n_l
        else "no network logon from that address followed yet"
    )
    reason = (
        f"{n_t} service ticket(s) for {user} ({short_list(services) or 'unknown services'}) were "
        f"requested from {where} on {fmt_ts(row['first_seen'])[:10]} "
        f"({fmt_ts(row['first_seen'])[11:]} to {fmt_ts(row['last_seen'])[11:]}), yet {user} "
        f"obtained no TGT from that address and did not log on at its host in the "
        f"{p['ticket_lifetime_hours']} h before: a ticket brought from elsewhere; {then}."
    )
    evidence = [*(row["evidence"] or []), *(row["logon_evidence"] or [])][:cap]
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"pass-the-ticket: {user} from {srcs[0] if srcs else ip}",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=last,
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts, *vals(row, "dcs")})),
        sites=tuple(vals(row, "sites")),
        ips=(ip,),
        reason=reason,
        evidence=tuple(evidence),
        evidence_count=n_t + n_l,
        key=f"{user}|{ip}|{row['day'].date().isoformat()}",
        actors=(user, ip, *srcs),
        details={"tickets": n_t, "network_logons": n_l, "services": services},
    )
