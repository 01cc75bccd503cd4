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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="technique.samaccountname_spoofing",
    title="Kerberos ticket for a user account named like a computer (sAMAccountName spoofing)",
    version="1",
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
)


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    kinds = [EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]
    k = e.filter(e.kind.isin(kinds), e.outcome != "failure", e.user.notnull())
    k = k.mutate(
        u=k.user.lower().split("@")[0],
        svc=k.service.lower(),
        kdc=k.log_host.lower().split(".")[0],
    )
    machine = k.u.endswith("$")
    # Computer names the Kerberos events themselves show.
    names = (
        k.filter(machine)
        .select(name=k.u.re_replace(r"\$$", ""))
        .union(k.filter(k.svc.endswith("$")).select(name=k.svc.re_replace(r"\$$", "")))
        .union(k.filter(k.kdc.notnull()).select(name=k.kdc))
    )
    cand = k.filter(~machine, k.u != "", k.u != "krbtgt")
    cand = cand.semi_join(names, cand.u == names.name)
    cand = cand.mutate(for_itself=(cand.svc == cand.u + "$").fill_null(False))
    return cand.group_by(account=cand.u).aggregate(
        first_seen=cand.ts.min(),
        last_seen=cand.ts.max(),
        n=cand.count(),
        n_tgt=(cand.kind == EventKind.KERBEROS_TGT.value).sum(),
        n_self=cand.for_itself.sum(),
        services=cand.service.collect(distinct=True),
        kdcs=cand.log_host.collect(distinct=True),
        src_ips=cand.src_ip.collect(distinct=True),
        srcs=cand.src_asset.fill_null(cand.src_host).collect(distinct=True),
        sites=cand.src_site.collect(distinct=True),
        evidence=earliest(cand.event_id, cand.ts, int(ctx.params["max_evidence"])),
    )


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    account = str(row["account"])
    n, n_tgt, n_self = int(row["n"]), int(row["n_tgt"] or 0), int(row["n_self"] or 0)
    kdcs, ips, srcs = vals(row, "kdcs"), vals(row, "src_ips"), vals(row, "srcs")
    services = vals(row, "services")
    score = 75.0 + (15 if n_self else 0) + (5 if n_tgt and n > n_tgt else 0)
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
        details={"tgts": n_tgt, "tickets_for_itself": n_self, "services": services},
    )
