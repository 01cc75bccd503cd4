"""NTLM from an account that authenticates with Kerberos: a replayed hash (pass-the-hash).

In a domain, a person's account authenticates with Kerberos; NTLM appears when a host is named by
IP address, for legacy devices, and when a hash is replayed, because an NT hash alone cannot get a
ticket the ordinary way. The onset is an account's first successful NTLM network logon (type 3,
or no type: 4776 and Zeek ntlm.log) after at least ``lookback_days`` without one, when that
account has authenticated with Kerberos for at least ``min_kerberos_days`` before it (so brand-new
accounts and new offices have no baseline to break). Accounts that use NTLM habitually are never
onsets; machine accounts and anonymous logons are left out. Precision comes from who and how
much: a privileged account's onset is a finding on its own, anyone else's only when the NTLM
logons of the next ``evidence_hours`` reach ``min_hosts`` hosts (a hash sprayed across an office).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import ibis

from ashiato.detect.common import earliest, fmt_ts, short_list, vals
from ashiato.detect.spec import DetectionContext, DetectorSpec, Finding, Param
from ashiato.events import EventKind

SPEC = DetectorSpec(
    id="privilege.ntlm_where_kerberos",
    title="NTLM logon by an account that uses Kerberos",
    version="1",
    severity="high",
    techniques=("T1550.002",),
    needs=(EventKind.LOGON,),  # the NTLM logons; the Kerberos baseline only qualifies them
    requires_inventory=False,
    description=(
        "An account with an established Kerberos history, and no NTLM in the look-back window, "
        "makes NTLM network logons: a privileged account, or any account reaching many hosts."
    ),
    params=(
        Param("lookback_days", 30, "How far back an earlier NTLM logon makes NTLM habitual."),
        Param("min_kerberos_days", 7, "Days of Kerberos use the account needs before the onset."),
        Param("warmup_days", 7, "Initial days that only build the baseline (no findings)."),
        Param("evidence_hours", 24, "NTLM logons after the onset kept as evidence."),
        Param("min_hosts", 5, "Hosts an unprivileged account's NTLM must reach to be a finding."),
        Param("max_evidence", 2000, "Evidence event ids kept per finding."),
    ),
)

_SENSITIVE = {"file-server", "database", "domain-controller"}


def _person(e: ibis.Table) -> ibis.ir.BooleanValue:
    """Named accounts only: no machine accounts (name$) and no anonymous logons."""
    name = e.user.lower()
    return e.user.notnull() & ~name.endswith("$") & ~name.startswith("anonymous")


def query(ctx: DetectionContext) -> ibis.Table:
    e = ctx.events
    p = ctx.params
    pkg = e.auth_package.upper()
    ntlm = e.filter(
        e.kind == EventKind.LOGON.value,
        e.outcome != "failure",
        pkg.startswith("NTLM"),
        e.logon_type.isnull() | (e.logon_type == 3),
        _person(e),
    )
    w = ibis.window(group_by=ntlm.user, order_by=[ntlm.ts, ntlm.event_id])
    ntlm = ntlm.mutate(prev_ts=ntlm.ts.lag().over(w))
    lookback = ibis.interval(days=int(p["lookback_days"]))
    onsets = ntlm.filter(ntlm.prev_ts.isnull() | (ntlm.ts > ntlm.prev_ts + lookback))
    if ctx.data_start is not None:
        onsets = onsets.filter(onsets.ts >= ctx.data_start + timedelta(days=int(p["warmup_days"])))
    onsets = onsets.select(
        o_user=onsets.user, onset=onsets.ts, onset_id=onsets.event_id, prev_ntlm=onsets.prev_ts
    )

    # The Kerberos baseline, per account and day (small): logons, TGTs and service tickets.
    kerb = e.filter(
        e.outcome != "failure",
        (pkg == "KERBEROS")
        | e.kind.isin([EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value]),
        _person(e),
    )
    kdays = kerb.group_by(k_user=kerb.user, k_day=kerb.ts.truncate("D")).aggregate(k_n=kerb.count())
    kb = onsets.inner_join(
        kdays, [onsets.o_user == kdays.k_user, kdays.k_day < onsets.onset.truncate("D")]
    )
    kb = kb.group_by("o_user", "onset", "onset_id").aggregate(
        k_first=kb.k_day.min(), k_days=kb.k_day.nunique(), k_n=kb.k_n.sum()
    )
    onsets = onsets.inner_join(
        kb, [onsets.o_user == kb.o_user, onsets.onset_id == kb.onset_id]
    ).select(onsets, kb.k_first, kb.k_days, kb.k_n)
    onsets = onsets.filter(
        onsets.k_first <= onsets.onset - ibis.interval(days=int(p["min_kerberos_days"]))
    )

    span = ibis.interval(hours=int(p["evidence_hours"]))
    j = onsets.inner_join(
        ntlm,
        [onsets.o_user == ntlm.user, ntlm.ts >= onsets.onset, ntlm.ts < onsets.onset + span],
    )
    dst = j.dst_asset.fill_null(j.dst_host).fill_null(j.dst_ip)
    out = j.group_by(
        "o_user", "onset", "onset_id", "prev_ntlm", "k_first", "k_days", "k_n"
    ).aggregate(
        first_seen=j.ts.min(),
        last_seen=j.ts.max(),
        n=j.count(),
        n_dsts=dst.nunique(),
        privileged=j.privileged.max(),
        groups=j.groups.first(),
        evidence=earliest(j.event_id, j.ts, int(p["max_evidence"])),
        dsts=dst.collect(distinct=True),
        dst_roles=j.dst_role.collect(distinct=True),
        dst_sites=j.dst_site.collect(distinct=True),
        src_sites=j.src_site.collect(distinct=True),
        srcs=j.src_asset.fill_null(j.src_host).collect(distinct=True),
        src_ips=j.src_ip.collect(distinct=True),
    )
    return out.filter(out.privileged | (out.n_dsts >= int(p["min_hosts"])))


def explain(row: Mapping[str, Any], ctx: DetectionContext) -> Finding:
    cap = int(ctx.params["max_evidence"])
    user = row["o_user"]
    dsts, roles = vals(row, "dsts"), vals(row, "dst_roles")
    srcs, ips = vals(row, "srcs"), vals(row, "src_ips")
    sensitive = sorted(_SENSITIVE & set(roles))
    privileged = bool(row["privileged"])
    score = 55.0 + (15 if privileged else 0) + (10 if sensitive else 0)
    score += min(15.0, float(row["n_dsts"]))
    who = f"{user} ({', '.join(row['groups'] or []) or 'privileged'})" if privileged else user
    history = (
        f"no NTLM logon since {fmt_ts(row['prev_ntlm'])}"
        if row["prev_ntlm"] is not None
        else f"no NTLM logon before in the data (since {fmt_ts(ctx.data_start)})"
    )
    reason = (
        f"{who} authenticated with NTLM at {fmt_ts(row['onset'])} from "
        f"{short_list([*srcs, *(i for i in ips if i not in srcs)]) or 'an unknown source'}; "
        f"it had used Kerberos on {row['k_days']} day(s) since {fmt_ts(row['k_first'])[:10]} "
        f"({row['k_n']} Kerberos events) and {history}. In the next "
        f"{ctx.params['evidence_hours']} h: {row['n']} NTLM logon(s) to {row['n_dsts']} host(s): "
        f"{short_list(dsts) or 'unknown hosts'}"
        + (f" (including {', '.join(sensitive)})" if sensitive else "")
        + ". A replayed password hash authenticates with NTLM only."
    )
    return Finding(
        detector=SPEC.id,
        detector_version=SPEC.version,
        title=f"{user} switched from Kerberos to NTLM",
        severity="critical" if score >= 90 else SPEC.severity,
        score=min(score, 100.0),
        techniques=SPEC.techniques,
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=(user,),
        hosts=tuple(sorted({*srcs, *dsts})),
        sites=tuple(sorted({*vals(row, "src_sites"), *vals(row, "dst_sites")})),
        ips=tuple(ips),
        reason=reason,
        evidence=tuple(row["evidence"][:cap]),
        evidence_count=int(row["n"]),
        key=f"{user}|{row['onset_id']}",
        actors=(user, *srcs, *ips),
        details={
            "onset_event": row["onset_id"],
            "previous_ntlm": row["prev_ntlm"],
            "kerberos_days": row["k_days"],
            "kerberos_events": row["k_n"],
            "dst_hosts": dsts,
            "dst_roles": roles,
            "privileged": privileged,
        },
    )
