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

Judged one UTC day at a time against its state: each account's last TGT per address and first
TGT, each address's first Kerberos event, the KDCs' addresses, the host at each address, each
account's last logon or 4648 per host (what clears a ticket within ``own_address_days``, known
up to the end of the ticket's day), and ``waiting``: the uncleared tickets of an (account,
address) with one within ``follow_minutes`` (at least 5, the clock skew) of midnight, judged the
next day with the logons that followed and a TGT logged just after (``context_days=1`` shows the
day before; ``follow_minutes`` is at most a day).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
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
    version="2",
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


def _today(ctx: DetectionContext, t: ibis.Table) -> ibis.Table:
    assert ctx.slice_start is not None
    return t.filter(t.ts >= ctx.slice_start)


def _kerberos(ctx: DetectionContext) -> ibis.Table:
    """The judged day's TGTs and service tickets with an address."""
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
    """The judged day's credentials of an account on a host: a logon there (interactive, unlock,
    RDP, cached, batch, service) or a process supplying them there (4648, runas)."""
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
    return tgt.select(g_user=tgt.user, g_ip=tgt.src_ip, g_ts=tgt.ts)


def _tgt_cleared(t: ibis.Table, tgt: ibis.Table, life: Any) -> ibis.Table:
    """``t`` without tickets whose account obtained a TGT from that address that could still be
    valid (``tgt``: TGTs as (g_user, g_ip, g_ts))."""
    return t.anti_join(
        tgt,
        [
            t.user == tgt.g_user,
            t.src_ip == tgt.g_ip,
            tgt.g_ts >= t.ts - life,
            tgt.g_ts <= t.ts + _SKEW,
        ],
    )


def _candidates(ctx: DetectionContext) -> ibis.Table:
    """The judged day's service tickets not cleared by what is known at its end: the state (the
    days before) and the day."""
    st = ctx.state
    blind, life, _, _ = _windows(ctx)
    k = _kerberos(ctx)
    t = k.filter(
        k.kind == EventKind.KERBEROS_SERVICE.value,
        k.user.notnull(),
        ~k.user.endswith("$"),
        ~k.src_ip.isin(_LOOPBACK),
        k.src_role.isnull() | (k.src_role != "domain-controller"),
    )
    kdc = st["kdc"].select("ip").union(_kdc(k).select("ip"))
    t = t.anti_join(kdc, t.src_ip == kdc.ip)
    # An account's first TGT in the store: before it, an absent 4768 says nothing (its AS
    # exchanges are logged on a DC whose logs are missing, or came before the data).
    tgt = _tgts(k)
    first = (
        st["tgt_first"].select(g_user="user", g_ts="first_ts").union(tgt.select("g_user", "g_ts"))
    )
    known = first.group_by("g_user").aggregate(first_tgt=first.g_ts.min())
    t = t.inner_join(known, [t.user == known.g_user, t.ts > known.first_tgt]).select(t)
    ips = st["ip_first"].union(k.group_by(ip=k.src_ip).aggregate(since=k.ts.min()))
    starts = ips.group_by("ip").aggregate(since=ips.since.min())
    t = t.inner_join(starts, [t.src_ip == starts.ip, t.ts >= starts.since + blind]).select(t)
    t = _tgt_cleared(t, tgt, life)
    last = st["tgt_last"]
    t = t.anti_join(last, [t.user == last.user, t.src_ip == last.ip, last.last_ts >= t.ts - life])
    # The account's own credentials on the host at that address, before the ticket.
    hosts = st["hosts"].select("ip", "host").union(_hosts(k).select("ip", "host"))
    own = _owners(ctx)
    own = own.inner_join(hosts, own.host == hosts.host).select(own.user, own.ts, hosts.ip)
    t = t.anti_join(
        own, [t.user == own.user, t.src_ip == own.ip, own.ts >= t.ts - life, own.ts <= t.ts]
    )
    seen = st["owner_last"]
    seen = seen.inner_join(hosts, seen.host == hosts.host).select(seen.user, seen.last_ts, hosts.ip)
    t = t.anti_join(seen, [t.user == seen.user, t.src_ip == seen.ip, seen.last_ts >= t.ts - life])
    return t.select(*_TICKET, "event_id")


def _split(ctx: DetectionContext) -> tuple[ibis.Table, ibis.Table]:
    """The day's candidates as (settled, waiting): a ticket close to midnight makes its (account,
    address) wait for the next day, where a late TGT may clear it and logons may follow it."""
    assert ctx.slice_start is not None
    _, _, _, settle = _windows(ctx)
    t = _candidates(ctx)
    end = ctx.slice_start + ibis.interval(days=1)
    late = t.filter(t.ts + settle >= end).select(l_user="user", l_ip="src_ip").distinct()
    keys = [t.user == late.l_user, t.src_ip == late.l_ip]
    return t.anti_join(late, keys), t.semi_join(late, keys)


def _waited(ctx: DetectionContext) -> ibis.Table:
    """Tickets of an earlier day that waited for this one, less those a TGT logged just after
    them (within the clock skew, today) clears."""
    assert ctx.slice_start is not None
    _, life, _, _ = _windows(ctx)
    w = ctx.state["waiting"]
    w = w.filter(~w.judged, w.ts < ctx.slice_start)
    return _tgt_cleared(w.select(*_TICKET, "event_id"), _tgts(_kerberos(ctx)), life)


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    _, _, follow, _ = _windows(ctx)
    settled, _ = _split(ctx)
    t = settled.union(_waited(ctx))
    t = t.mutate(day=t.ts.truncate("D"))
    cap = int(p["max_evidence"])
    tix = t.group_by("user", "src_ip", "day").aggregate(
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
    # (the day before is in view: a waiting ticket's logons may have come before midnight)
    net = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type == 3,
        e.auth_package.isnull() | (e.auth_package.upper() != "NTLM"),
    )
    used = t.inner_join(
        net,
        [t.user == net.user, t.src_ip == net.src_ip, net.ts >= t.ts, net.ts <= t.ts + follow],
    )
    used = used.select(
        user=t.user,
        src_ip=t.src_ip,
        day=t.day,
        lid=net.event_id,
        lts=net.ts,
        dst=net.dst_asset.fill_null(net.dst_host),
        dst_role=net.dst_role,
    ).distinct()
    logons = used.group_by("user", "src_ip", "day").aggregate(
        n_logons=used.count(),
        logon_last=used.lts.max(),
        dsts=used.dst.collect(distinct=True),
        dst_roles=used.dst_role.collect(distinct=True),
        logon_evidence=earliest(used.lid, used.lts, cap),
    )
    out = tix.left_join(
        logons,
        [tix.user == logons.user, tix.src_ip == logons.src_ip, tix.day == logons.day],
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
        # the day's waiting tickets; those of earlier days, judged today
        "waiting": waiting.select(*cols, judged=ibis.literal(False)).union(
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
