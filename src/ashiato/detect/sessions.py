"""Complete a finding's evidence with the sessions it belongs to: its logons' privilege grants, and
the logon session that made its explicit-credential events (an account switch's first hop).

Windows writes a 4672 (special privileges assigned) for the same logon session right after a
privileged 4624, on the same host for the same account. A finding that cites the logon is about
that session, so its evidence should hold the privilege grant too: analysts see the whole
session, and evaluation counts it. Done once per run, in the engine, over the cited logons only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import ibis
import pyarrow as pa

from ashiato.detect.links import Links, LinkStep
from ashiato.detect.spec import Finding
from ashiato.events import EventKind

Execute = Callable[[ibis.Expr], pa.Table]

WINDOW_SECONDS = 2
"""How soon after the logon its 4672 is written (same second in practice; 2 s for clock steps)."""


def _cited(findings: list[Finding]) -> set[str]:
    """Every event id the findings cite."""
    return {e for f in findings for e in f.evidence}


def _grants(ids: ibis.Table, events: ibis.Table, execute: Execute) -> pa.Table:
    """Each cited logon's privilege grants (``cid``, ``g_id``)."""
    logons = events.filter(events.kind == EventKind.LOGON.value)
    logons = logons.inner_join(ids, logons.event_id == ids.cid).select(
        l_id=logons.event_id, l_host=logons.log_host, l_user=logons.user, l_ts=logons.ts
    )
    grants = events.filter(events.kind == EventKind.PRIVILEGE_GRANT.value)
    j = logons.inner_join(
        grants,
        [
            grants.log_host == logons.l_host,
            grants.user == logons.l_user,
            grants.ts >= logons.l_ts,
            grants.ts <= logons.l_ts + ibis.interval(seconds=WINDOW_SECONDS),
        ],
    ).select(cid="l_id", g_id=grants.event_id)
    return execute(j)


GRANTS = LinkStep(
    "grants",
    (EventKind.LOGON.value,),
    {"g_id": pa.string()},
    timedelta(0),
    timedelta(seconds=WINDOW_SECONDS),
    _grants,
)


def add_session_events(findings: list[Finding], links: Links, cap: int = 2000) -> list[Finding]:
    """Findings whose cited logons gain the privilege grants of the same sessions."""
    cited = _cited(findings)
    if not cited:
        return findings
    pairs = links(GRANTS, cited)
    extra: dict[str, list[str]] = defaultdict(list)
    for lid, gid in zip(pairs["cid"].to_pylist(), pairs["g_id"].to_pylist(), strict=True):
        extra[lid].append(gid)
    if not extra:
        return findings
    out = []
    for f in findings:
        have = set(f.evidence)
        added = sorted({g for e in f.evidence for g in extra.get(e, ()) if g not in have})
        if not added:
            out.append(f)
            continue
        out.append(
            replace(
                f,
                evidence=(*f.evidence, *added)[: max(cap, len(f.evidence))],
                evidence_count=f.evidence_count + len(added),
            )
        )
    return out


SESSION_HOURS = 72
"""How long before a 4648 its logon session may have begun (an RDP session left open for days)."""


_SERVICE_SESSIONS = ["0x0", "0x3e7", "0x3e4", "0x3e5"]
"""Logon ids of no session and of SYSTEM, NETWORK SERVICE and LOCAL SERVICE: no 4624 begins them."""


def _origins(ids: ibis.Table, events: ibis.Table, execute: Execute) -> pa.Table:
    """Each cited 4648's logon session (``cid``, ``l_id``, ``l_user``, ``l_src``, ``l_ip``).

    Two narrow reads, not one join: the cited 4648s first (a few), then only the logons on
    their hosts by their subjects. The logon id lives in each 4624's ``raw`` map, and a join
    left to the engine decoded the map of every logon of the 72 hours before them."""
    raw = events.raw
    ec = events.filter(events.kind == EventKind.EXPLICIT_CREDENTIALS.value)
    ec = ec.inner_join(ids, ec.event_id == ids.cid).select(
        c_id=ec.event_id,
        c_host=ec.log_host,
        c_ts=ec.ts,
        c_user=raw["SubjectUserName"].lower(),
        c_lid=raw["SubjectLogonId"].lower(),
    )
    ec = ec.filter(ec.c_lid.notnull() & ~ec.c_lid.isin(_SERVICE_SESSIONS))
    cited = execute(ec).to_pylist()
    out: dict[str, list[object]] = {c: [] for c in ORIGIN_COLUMNS}
    hosts = sorted({str(c["c_host"]) for c in cited if c["c_host"] and c["c_user"]})
    users = sorted({str(c["c_user"]) for c in cited if c["c_host"] and c["c_user"]})
    if hosts:
        lg = events.filter(
            events.kind == EventKind.LOGON.value,
            events.log_host.isin(hosts),
            events.user.isin(users),  # stored lower case (ingest normalises it)
        )
        lg = lg.select(
            l_id=lg.event_id,
            l_host=lg.log_host,
            l_ts=lg.ts,
            l_user=lg.user,
            l_src=lg.src_host,
            l_ip=lg.src_ip,
            l_lid=lg.raw["TargetLogonId"].lower(),
        )
        by: dict[tuple[object, object, object], list[dict[str, object]]] = defaultdict(list)
        for r in execute(lg).to_pylist():
            if r["l_lid"] is not None and r["l_user"] is not None:
                by[(r["l_host"], r["l_lid"], str(r["l_user"]).lower())].append(r)
        window = timedelta(hours=SESSION_HOURS)
        for c in cited:
            for r in by.get((c["c_host"], c["c_lid"], c["c_user"]), ()):
                if c["c_ts"] - window <= r["l_ts"] <= c["c_ts"]:
                    out["cid"].append(c["c_id"])
                    for col in ORIGIN_COLUMNS[1:]:
                        out[col].append(r[col])
    return pa.table(out, schema=ORIGINS.schema())


ORIGIN_COLUMNS = ("cid", "l_id", "l_user", "l_src", "l_ip")
ORIGINS = LinkStep(
    "origins",
    (EventKind.EXPLICIT_CREDENTIALS.value,),
    {c: pa.string() for c in ORIGIN_COLUMNS[1:]},
    timedelta(hours=SESSION_HOURS),
    timedelta(0),
    _origins,
)


def add_originating_logons(
    findings: list[Finding],
    links: Links,
    cap: int = 2000,
    name: Callable[[str | None, str | None], str | None] | None = None,
) -> list[Finding]:
    """Findings citing explicit-credential events (4648) gain the logon whose session made them.

    A 4648 names the account whose credentials were supplied; the person at the keyboard is its
    subject, logged on to that host in the session ``SubjectLogonId`` (the ``TargetLogonId`` of
    that session's 4624). An account switch along allowed hops (A logs on to B, then supplies C's
    credentials there) is one actor's work: the finding should name A, A's logon and the host A
    came from, or the intrusion's first hop and its source stay invisible. ``name`` (host, address)
    -> the inventory's asset: a network logon often gives only the source's address, and the
    host behind it is what the analyst (and the containment plan) needs."""
    cited = _cited(findings)
    if not cited:
        return findings
    rows = links(ORIGINS, cited).to_pylist()
    if not rows:
        return findings
    by: dict[str, list[dict[str, str | None]]] = defaultdict(list)
    for r in rows:
        by[str(r["cid"])].append(r)
    out = []
    for f in findings:
        found = [r for e in f.evidence for r in by.get(e, ())]
        have = set(f.evidence)
        added = sorted({str(r["l_id"]) for r in found} - have)
        if not added:
            out.append(f)
            continue
        users = sorted({str(r["l_user"]) for r in found if r["l_user"]})
        named = [(name(r["l_src"], r["l_ip"]) if name else None) or r["l_src"] for r in found]
        srcs = sorted({str(n).lower() for n in named if n})
        ips = sorted({str(r["l_ip"]) for r in found if r["l_ip"]})
        out.append(
            replace(
                f,
                evidence=(*f.evidence, *added)[: max(cap, len(f.evidence))],
                evidence_count=f.evidence_count + len(added),
                accounts=tuple(dict.fromkeys([*f.accounts, *users])),
                hosts=tuple(sorted({*f.hosts, *srcs})),
                ips=tuple(sorted({*f.ips, *ips})),
                actors=tuple(dict.fromkeys([*f.actors, *users])),
                details={**f.details, "switched_from": users},
            )
        )
    return out


TICKET_HOURS = 10
"""How old a service ticket a logon presents may be (a TGS lasts for its TGT's 10 h)."""


def _tickets(ids: ibis.Table, events: ibis.Table, execute: Execute) -> pa.Table:
    """Each cited Kerberos logon's latest service ticket (``cid``, ``t_id``)."""
    lg = events.filter(
        (events.kind == EventKind.LOGON.value)
        & (events.auth_package.fill_null("").upper() != "NTLM")
        & events.src_ip.notnull()
    )
    lg = lg.inner_join(ids, lg.event_id == ids.cid).select(
        l_id=lg.event_id,
        l_host=lg.log_host.lower(),
        l_user=lg.user.lower(),
        l_ip=lg.src_ip,
        l_ts=lg.ts,
    )
    # The few cited logons as a table of their own: a self-join of the events on derived
    # columns (lower-cased names) is one Ibis cannot tell apart.
    lg = ibis.memtable(execute(lg))
    tk = events.filter(events.kind == EventKind.KERBEROS_SERVICE.value)
    tk = tk.select(
        t_id=tk.event_id,
        t_host=tk.dst_host.lower(),
        t_user=tk.user.lower(),
        t_ip=tk.src_ip,
        t_ts=tk.ts,
    )
    j = lg.inner_join(
        tk,
        [
            tk.t_host == lg.l_host,
            tk.t_user == lg.l_user,
            tk.t_ip == lg.l_ip,
            tk.t_ts <= lg.l_ts + ibis.interval(seconds=5),
            tk.t_ts >= lg.l_ts - ibis.interval(hours=TICKET_HOURS),
        ],
    ).select("l_id", "t_id", "t_ts")
    # The latest ticket per logon, picked in the engine: a busy account's logons each match
    # hundreds of its tickets in 10 h, far too many rows to bring back (44.6 M events: the
    # pairs alone exhausted 24 GiB).
    j = j.group_by(cid="l_id").aggregate(t_id=j.t_id.argmax(j.t_ts))
    return execute(j)


TICKETS = LinkStep(
    "tickets",
    (EventKind.LOGON.value,),
    {"t_id": pa.string()},
    timedelta(hours=TICKET_HOURS),
    timedelta(seconds=5),
    _tickets,
)


def add_logon_tickets(findings: list[Finding], links: Links, cap: int = 2000) -> list[Finding]:
    """Findings citing a Kerberos logon gain the service ticket it presented.

    A network or RDP logon by Kerberos presents a ticket the domain controller issued for that
    host, to that account, at that client address, shortly before (the latest one within
    ``TICKET_HOURS``). Citing it names the controller that served the credential (with
    ``follow.name_ticket_servers``), which is in the intrusion's scope even when no detector's
    own evidence reached it: an account switch's first hop, a flagged RDP session."""
    cited = _cited(findings)
    if not cited:
        return findings
    got = links(TICKETS, cited)
    latest = dict(zip(got["cid"].to_pylist(), got["t_id"].to_pylist(), strict=True))
    if not latest:
        return findings
    out = []
    for f in findings:
        have = set(f.evidence)
        added = sorted({latest[e] for e in f.evidence if e in latest} - have)
        out.append(
            replace(
                f,
                evidence=(*f.evidence, *added)[: max(cap, len(f.evidence))],
                evidence_count=f.evidence_count + len(added),
            )
            if added
            else f
        )
    return out
