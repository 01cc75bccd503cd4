"""Follow a flagged credential: where it went next from the hosts its alarm names.

An alarm usually fires on the first odd step: a service account logging on interactively, the
one account a password spray cracked, a hop that was never made before. What the intruder does
next with that credential often looks ordinary on its own (a logon to a backup server, a share
read), so no detector would raise it, yet it is the scope an incident responder must establish.
So, for each strong finding, the account's logons *from the hosts the finding names*, in the
hours after it, to destinations that account had never reached from that host before, are added
to the finding: its hosts, its evidence and a sentence in its reason. Novelty keeps the owner's
routine out (their daily logons from their own PC were seen before the alarm). A host the
credential was first used from within the finding is a foothold: an intruder comes back to it
on later days, so it is followed for a week, while the owner's usual hosts (an admin's jump
server reaches new machines every day) are followed for a day only. Done once per run, in the
engine, over the named accounts only. Last, the domain controllers that issued the Kerberos
tickets a finding cites are named with its hosts (``name_ticket_servers``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import ibis
import pyarrow as pa

from ashiato.detect.common import CREDENTIAL_KINDS, MAX_EVIDENCE, short_list
from ashiato.detect.links import Links, LinkStep
from ashiato.detect.spec import Finding
from ashiato.events import EventKind

Execute = Callable[[ibis.Expr], pa.Table]

MIN_SCORE = 60.0
"""Findings at least this strong have their credential followed."""

FOLLOW_HOURS = 24
"""How long after a finding's last event its credential is followed from the hosts it names."""

FOLLOW = timedelta(days=7)
"""How long it is followed from a foothold (a host it was first used from in the finding): an
intruder comes back with the same credential on later days, so a day is too short there; the
week is the gap within which findings group into one incident (``incidents.gap_days``)."""


def follow_credentials(
    findings: list[Finding],
    events: ibis.Table,
    enriched: Callable[[ibis.Table], ibis.Table],
    execute: Callable[[ibis.Expr], pa.Table],
    *,
    min_score: float | None = None,
    hours: int = FOLLOW_HOURS,
    foothold: timedelta = FOLLOW,
    cap: int = MAX_EVIDENCE,
) -> list[Finding]:
    """Findings extended with their credential's new destinations from the hosts they name.

    ``events`` are the stored events; ``enriched`` joins rows of them with the inventory (done
    here on the followed accounts' rows only, not on the whole history)."""
    min_score = MIN_SCORE if min_score is None else min_score
    keys = ("fid", "f_user", "f_host", "t0", "t1", "t1_foothold")
    rows: dict[str, list[object]] = {k: [] for k in keys}
    for f in findings:
        if f.score < min_score:
            continue
        for user in f.accounts:
            if not user or user == "*" or user.endswith("$"):
                continue
            for host in f.hosts:
                rows["fid"].append(f.finding_id)
                rows["f_user"].append(user)
                rows["f_host"].append(host)
                rows["t0"].append(f.first_seen)
                rows["t1"].append(f.last_seen + timedelta(hours=hours))
                rows["t1_foothold"].append(f.last_seen + max(foothold, timedelta(hours=hours)))
    if not rows["fid"]:
        return findings
    ts_type = pa.timestamp("us", tz="UTC")
    watch = ibis.memtable(
        pa.table(
            {
                "fid": pa.array(rows["fid"], pa.string()),
                "f_user": pa.array(rows["f_user"], pa.string()),
                "f_host": pa.array(rows["f_host"], pa.string()),
                "t0": pa.array(rows["t0"], ts_type),
                "t1": pa.array(rows["t1"], ts_type),
                "t1_foothold": pa.array(rows["t1_foothold"], ts_type),
            }
        )
    )
    users = sorted(set(rows["f_user"]))  # type: ignore[type-var]
    e = events
    t = enriched(
        e.filter(
            e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
            e.outcome != "failure",
            e.user.isin(users),
        )
    )
    t = t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host).fill_null(t.dst_ip),
    ).filter(lambda x: x.src.notnull() & x.dst.notnull() & (x.src != x.dst))
    first = t.group_by("user", "src", "dst").aggregate(edge_first=t.ts.min())
    from_first = t.group_by("user", "src").aggregate(src_first=t.ts.min())
    w = watch.inner_join(
        from_first, [watch.f_user == from_first.user, watch.f_host == from_first.src]
    )
    w = w.select(
        "fid",
        "f_user",
        "f_host",
        "t0",
        until=ibis.ifelse(w.src_first >= w.t0, w.t1_foothold, w.t1),
    )
    j = t.inner_join(w, [t.user == w.f_user, t.src == w.f_host, t.ts >= w.t0, t.ts <= w.until])
    j = j.inner_join(first, ["user", "src", "dst"]).filter(lambda x: x.edge_first >= x.t0)
    got = execute(j.select("fid", "dst", "event_id", "ts").order_by("fid", "ts", "event_id"))
    if not got.num_rows:
        return findings
    dsts: dict[str, set[str]] = defaultdict(set)
    ids: dict[str, list[str]] = defaultdict(list)
    for fid, dst, eid in zip(
        got["fid"].to_pylist(), got["dst"].to_pylist(), got["event_id"].to_pylist(), strict=True
    ):
        dsts[fid].add(dst)
        ids[fid].append(eid)
    out = []
    for f in findings:
        new_hosts = sorted(dsts.get(f.finding_id, set()) - set(f.hosts))
        have = set(f.evidence)
        added = [x for x in ids.get(f.finding_id, []) if x not in have]
        if not new_hosts and not added:
            out.append(f)
            continue
        sentence = (
            f" Followed from the hosts named here (for {hours} h, for {_span(foothold)} from a "
            f"host it was first used from here), the same credential reached {len(new_hosts)} "
            f"more host(s) it had never reached from them: "
            f"{short_list(new_hosts)}."
            if new_hosts
            else ""
        )
        out.append(
            replace(
                f,
                hosts=tuple(sorted({*f.hosts, *new_hosts})),
                reason=f.reason + sentence,
                evidence=(*f.evidence, *added)[: max(cap, len(f.evidence))],
                evidence_count=f.evidence_count + len(added),
                details={**f.details, "followed_hosts": new_hosts} if new_hosts else f.details,
            )
        )
    return out


def _span(window: timedelta) -> str:
    """A follow window in words: "7 days", "24 h"."""
    if window % timedelta(days=1):
        return f"{window / timedelta(hours=1):g} h"
    return f"{window.days} day{'s' if window.days != 1 else ''}"


def _servers(ids: ibis.Table, events: ibis.Table, execute: Execute) -> pa.Table:
    """The controller that logged each cited Kerberos event (``cid``, ``log_host``)."""
    k = events.filter(events.kind.isin(_KERBEROS), events.log_host.notnull())
    k = k.inner_join(ids, k.event_id == ids.cid).select(cid=k.event_id, log_host=k.log_host)
    return execute(k)


_KERBEROS = (EventKind.KERBEROS_TGT.value, EventKind.KERBEROS_SERVICE.value)
SERVERS = LinkStep(
    "servers", _KERBEROS, {"log_host": pa.string()}, timedelta(0), timedelta(0), _servers
)


def name_ticket_servers(findings: list[Finding], links: Links) -> list[Finding]:
    """Findings whose cited Kerberos events gain the domain controllers that logged them.

    A 4768/4769 names the service the ticket is for as its destination; the domain controller
    that issued it is only the recording host. Yet that controller served the credential (its
    logs hold the evidence and it is in the incident's scope), so it is named with the hosts.
    """
    cited = {e for f in findings for e in f.evidence}
    if not cited:
        return findings
    got = links(SERVERS, cited)
    kdc = dict(zip(got["cid"].to_pylist(), got["log_host"].to_pylist(), strict=True))
    if not kdc:
        return findings
    out = []
    for f in findings:
        servers = {kdc[e] for e in f.evidence if e in kdc} - set(f.hosts)
        out.append(replace(f, hosts=tuple(sorted({*f.hosts, *servers}))) if servers else f)
    return out
