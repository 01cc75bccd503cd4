"""sAMAccountName spoofing (noPac): Kerberos tickets for a user account named like a computer.

CVE-2021-42278/42287: an attacker who may create machine accounts (the default
MachineAccountQuota of 10) renames one to the name of a domain controller *without* the trailing
``$`` ("dc01"), asks for a TGT as "dc01" (4768), renames the account back, then asks for a service
ticket with that TGT (4769, often S4U2self). Not finding "dc01", the KDC tries "dc01$" and issues
a ticket as the domain controller itself. What the DC logs: Kerberos tickets for an account whose
name is a computer's name without the ``$``: a service ticket for ``DC01$`` requested by
``dc01``, or a TGT for ``dc01`` logged by the domain controller DC01.

A computer's name is known from the Kerberos events themselves: the KDC that logs them
(``log_host``), machine accounts (``NAME$``) asking for tickets, and services named ``NAME$``.
A technique signature, not a baseline: no warm-up, no inventory. A user account that really
shares its name with a computer (some kiosk set-ups) would match too.

Judged day by day. State ``computers`` keeps every computer name the Kerberos events showed so
far (a machine account seen last week names its computer today); state ``tickets`` keeps, per
flagged account, how many tickets it was issued on earlier days, so an attack whose TGT comes
before midnight and its ticket as the DC after is scored as one chain (both, for itself) and
its words say what came before. One finding per account, going on over the days it is seen.
A slice of several days is judged as its days one at a time: a ticket is held against the
computers known by the end of its own day and the account's tickets on the days before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.detect.state import StateTable
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="technique.samaccountname_spoofing",
    title="Kerberos ticket for a user account named like a computer (sAMAccountName spoofing)",
    version="3",
    severity="high",
    techniques=("T1558", "T1068", "T1078.002"),
    needs=(EventKind.KERBEROS_TGT, EventKind.KERBEROS_SERVICE),
    requires_inventory=False,
    description=(
        "A TGT (4768) or service ticket (4769) issued to an account without a trailing $ whose "
        "name is a computer's name: the domain controller logging it, a machine account asking "
        "for tickets, or the service the ticket is for (CVE-2021-42278/42287, noPac)."
    ),
    params=(Param("max_evidence", 2000, "Evidence event ids kept per finding."),),
    multi_day=True,
    state=(
        StateTable(
            "computers",
            keys={"name": "string"},
            values={"first_ts": "timestamp('UTC', 6)"},
            combine={"first_ts": "min"},
            description="Computer names the Kerberos events showed (KDCs, machine accounts, "
            "NAME$ services), lower case, without the $.",
        ),
        StateTable(
            "tickets",
            keys={"account": "string"},
            values={
                "p_n": "int64",
                "p_tgt": "int64",
                "p_self": "int64",
                "p_first": "timestamp('UTC', 6)",
            },
            combine={"p_n": "sum", "p_tgt": "sum", "p_self": "sum", "p_first": "min"},
            description="Per flagged account (a computer's name without the $): tickets issued "
            "to it, TGTs among them, tickets for that very computer, and the first one.",
        ),
    ),
)


def _kerberos(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    kinds = [EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]
    k = e.filter(e.kind.isin(kinds), e.outcome != "failure", e.user.notnull())
    return k.mutate(
        u=k.user.lower().split("@")[0],
        svc=k.service.lower(),
        kdc=k.log_host.lower().split(".")[0],
    )


def _names(k: ibis.Table) -> ibis.Table:
    """Computer names the slice's Kerberos events show, with when they first did."""
    names = (
        k.filter(k.u.endswith("$"))
        .select(name=k.u.re_replace(r"\$$", ""), ts=k.ts)
        .union(k.filter(k.svc.endswith("$")).select(name=k.svc.re_replace(r"\$$", ""), ts=k.ts))
        .union(k.filter(k.kdc.notnull()).select(name=k.kdc, ts=k.ts))
    )
    return names.group_by("name").aggregate(first_ts=names.ts.min())


def _flagged(ctx: DetectionContext) -> ibis.Table:
    """The slice's tickets issued to an account named like a computer known by the end of the
    ticket's own day: in the state, or shown by the slice's events of that day or before."""
    k = _kerberos(ctx)
    known = ctx.state["computers"].union(_names(k))  # the state's: before the slice
    known = known.group_by("name").aggregate(since=known.first_ts.min().truncate("D"))
    cand = k.filter(~k.u.endswith("$"), k.u != "", k.u != "krbtgt")
    cand = cand.mutate(part_day=cand.ts.truncate("D"))
    on = [cand.u == known.name, known.since <= cand.part_day]
    cand = cand.semi_join(known, on)
    return cand.mutate(
        account=cand.u,
        for_itself=(cand.svc == cand.u + "$").fill_null(False),
        is_tgt=cand.kind == EventKind.KERBEROS_TGT.value,
    )


def query(ctx: DetectionContext) -> ibis.Table:
    """One row per flagged account and day, with its tickets on earlier days (the state's
    and the slice's own earlier days')."""
    cand = _flagged(ctx)
    g = cand.group_by("account", "part_day").aggregate(
        first_seen=cand.ts.min(),
        last_seen=cand.ts.max(),
        n=cand.count(),
        n_tgt=cand.is_tgt.sum(),
        n_self=cand.for_itself.sum(),
        services=cand.service.collect(distinct=True),
        kdcs=cand.log_host.collect(distinct=True),
        src_ips=cand.src_ip.collect(distinct=True),
        srcs=cand.src_asset.fill_null(cand.src_host).collect(distinct=True),
        sites=cand.src_site.collect(distinct=True),
        evidence=earliest(cand.event_id, cand.ts, int(ctx.params["max_evidence"])),
    )
    earlier = ibis.window(group_by=g.account, order_by=g.part_day, rows=(None, -1))
    g = g.mutate(
        s_n=g.n.sum().over(earlier),
        s_tgt=g.n_tgt.sum().over(earlier),
        s_self=g.n_self.sum().over(earlier),
        s_first=g.first_seen.min().over(earlier),
    )
    before = ctx.state["tickets"]  # the same account's tickets on days before the slice
    j = g.left_join(before, g.account == before.account)
    p_first = ibis.least(j.p_first.fill_null(j.s_first), j.s_first.fill_null(j.p_first))
    return j.select(
        *(c for c in g.columns if not c.startswith("s_")),
        p_n=j.p_n.fill_null(0) + j.s_n.fill_null(0),
        p_tgt=j.p_tgt.fill_null(0) + j.s_tgt.fill_null(0),
        p_self=j.p_self.fill_null(0) + j.s_self.fill_null(0),
        p_first=p_first,
    )


def fold(ctx: DetectionContext) -> dict[str, ibis.Table]:
    cand = _flagged(ctx)
    tickets = cand.group_by("account").aggregate(
        p_n=cand.count(),
        p_tgt=cand.is_tgt.sum().cast("int64"),
        p_self=cand.for_itself.sum().cast("int64"),
        p_first=cand.ts.min(),
    )
    return {"computers": _names(_kerberos(ctx)), "tickets": tickets}


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    account = str(row["account"])
    n, n_tgt, n_self = int(row["n"]), int(row["n_tgt"] or 0), int(row["n_self"] or 0)
    p_n, p_tgt, p_self = (int(row[c] or 0) for c in ("p_n", "p_tgt", "p_self"))
    kdcs, ips, srcs = vals(row, "kdcs"), vals(row, "src_ips"), vals(row, "srcs")
    services = vals(row, "services")
    # scored on the chain so far: a TGT before midnight and the ticket as the DC after it
    all_n, all_tgt = n + p_n, n_tgt + p_tgt
    score = 75.0 + (15 if n_self + p_self else 0) + (5 if all_tgt and all_n > all_tgt else 0)
    parts = []
    if n_tgt:
        parts.append(f"{n_tgt} TGT(s)")
    if n > n_tgt:
        parts.append(f"{n - n_tgt} service ticket(s) for {short_list(services)}")
    reason = (
        f"the KDC {short_list(kdcs) or '?'} issued {' and '.join(parts)} to the account "
        f"'{account}', which has no trailing $ yet is the name of the computer {account.upper()}$"
        + (" (a ticket for that very computer)" if n_self else "")
        + f", from {short_list([*srcs, *(i for i in ips if i not in srcs)]) or 'an unknown source'}"
        f" at {fmt_ts(row['first_seen'])}: a machine account renamed to a computer's name "
        "(CVE-2021-42278/42287, noPac) or a forged ticket under that name."
    )
    if p_n:
        before = [f"{p_tgt} TGT(s)"] if p_tgt else []
        if p_n > p_tgt:
            before.append(
                f"{p_n - p_tgt} service ticket(s)"
                + (f", {p_self} for that very computer" if p_self else "")
            )
        reason += (
            f" Before that day it had been issued {' and '.join(before)} since "
            f"{fmt_ts(row['p_first'])}."
        )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"Kerberos tickets for '{account}', a computer's name without its $",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(account,),
        hosts=tuple(sorted({*kdcs, *srcs})),
        sites=tuple(vals(row, "sites")),
        ips=tuple(ips),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=n,
        key=account,
        actors=(account, *srcs, *ips),
        details={
            "tgts": n_tgt,
            "tickets_for_itself": n_self,
            "services": services,
            "earlier_tickets": p_n,
        },
    )
