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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="privilege.ticket_without_tgt",
    title="Service tickets without a TGT from that address (pass-the-ticket)",
    version="1",
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
)

_LOOPBACK = ["127.0.0.1", "::1"]
_OWNER_TYPES = [2, 4, 5, 7, 10, 11]  # interactive, batch, service, unlock, RDP, cached
_SKEW = ibis.interval(minutes=5)  # DCs' clocks and log order: a TGT logged a moment late
_SENSITIVE = {"file-server", "database", "domain-controller"}


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    valid = max(float(p["ticket_lifetime_hours"]), 24.0 * float(p["renewal_days"]))
    blind = ibis.interval(minutes=int(valid * 60))  # a TGT before the data may live this long
    life = ibis.interval(minutes=int(max(valid, 24.0 * float(p["own_address_days"])) * 60))
    follow = ibis.interval(minutes=int(p["follow_minutes"]))
    kinds = [EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]
    k = e.filter(e.kind.isin(kinds), e.outcome != "failure", e.src_ip.notnull())
    machine = k.user.endswith("$")
    # Addresses of the KDCs themselves: where a DC's own machine account asks from.
    kdc = k.filter(machine, k.user == k.log_host.lower().split(".")[0] + "$")
    kdc = kdc.select(ip=kdc.src_ip).distinct()
    # The host at each address: machine accounts asking from it, and the inventory's asset.
    hosts = k.filter(machine).select(ip=k.src_ip, host=k.user.re_replace(r"\$$", ""))
    assets = k.filter(k.src_asset.notnull()).select(ip=k.src_ip, host=k.src_asset)
    hosts = hosts.union(assets)  # distinct
    starts = k.group_by(ip=k.src_ip).aggregate(since=k.ts.min())
    tgt = k.filter(k.kind == EventKind.KERBEROS_TGT.value).select("user", "src_ip", "ts")
    # An account's first TGT in the store: before it, an absent 4768 says nothing (its AS
    # exchanges are logged on a DC whose logs are missing, or came before the data).
    known = tgt.group_by("user").aggregate(first_tgt=tgt.ts.min())

    t = k.filter(
        k.kind == EventKind.KERBEROS_SERVICE.value,
        k.user.notnull(),
        ~machine,
        ~k.src_ip.isin(_LOOPBACK),
        k.src_role.isnull() | (k.src_role != "domain-controller"),
    )
    t = t.anti_join(kdc, t.src_ip == kdc.ip)
    t = t.inner_join(known, [t.user == known.user, t.ts > known.first_tgt]).select(t)
    t = t.inner_join(starts, [t.src_ip == starts.ip, t.ts >= starts.since + blind]).select(t)
    t = t.anti_join(
        tgt,
        [
            t.user == tgt.user,
            t.src_ip == tgt.src_ip,
            tgt.ts >= t.ts - life,
            tgt.ts <= t.ts + _SKEW,
        ],
    )
    # The account's own credentials on the host at that address: a logon there (interactive,
    # unlock, RDP, cached, batch, service) or a process supplying them there (4648, runas).
    lg = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        e.logon_type.isin(_OWNER_TYPES),
    )
    lg = lg.select("user", "ts", host=lg.dst_host.fill_null(lg.log_host).lower())
    ex = e.filter(e.kind == EventKind.EXPLICIT_CREDENTIALS.value)
    ex = ex.select("user", "ts", host=ex.src_host.fill_null(ex.log_host).lower())
    lg = lg.union(ex, distinct=False)
    owner = lg.inner_join(hosts, lg.host == hosts.host).select(lg.user, lg.ts, hosts.ip)
    t = t.anti_join(
        owner,
        [t.user == owner.user, t.src_ip == owner.ip, owner.ts >= t.ts - life, owner.ts <= t.ts],
    )
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
