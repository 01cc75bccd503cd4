"""Follow a flagged credential: where it went next from the hosts its alarm names.

An alarm usually fires on the first odd step: a service account logging on interactively, the
one account a password spray cracked, a hop that was never made before. What the intruder does
next with that credential often looks ordinary on its own (a logon to a backup server, a share
read), so no detector would raise it, yet it is the scope an incident responder must establish.
So, for each strong finding, the account's logons *from the hosts the finding names*, in the
hours after it, to destinations that account had not reached from that host in the month before
(``BASELINE``), are added to the finding: its hosts, its evidence and a sentence in its reason.
Novelty keeps the owner's routine out (their daily logons from their own PC were seen before
the alarm). A host the credential was first used from within the finding (not in the month
before) is a foothold: an intruder comes back to it on later days, so it is followed for a
week, while the owner's usual hosts (an admin's jump server reaches new machines every day) are
followed for a day only. Done once per run, in the engine, over the named accounts' last month
only. Last, the domain controllers that issued the Kerberos tickets a finding cites are named
with its hosts (``name_ticket_servers``).
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


BASELINE = timedelta(days=30)
"""What the credential did before a finding, to tell new destinations and footholds: the look-back
of the novelty detectors (``rare_access``), so a run reads the followed accounts' last month, not
their whole history."""


def follow_credentials(
    findings: list[Finding],
    events: ibis.Table,
    enriched: Callable[[ibis.Table], ibis.Table],
    execute: Callable[[ibis.Expr], pa.Table],
    *,
    min_score: float | None = None,
    hours: int = FOLLOW_HOURS,
    foothold: timedelta = FOLLOW,
    baseline: timedelta | None = None,
    cap: int = MAX_EVIDENCE,
) -> list[Finding]:
    """Findings extended with their credential's new destinations from the hosts they name.

    New means not reached from that host in the ``baseline`` before the finding began; a host is
    a foothold when the credential was not used from it in that time. ``events`` are the stored
    events (read from the earliest baseline on: the cost does not grow with the history);
    ``enriched`` joins rows of them with the inventory (done on the followed accounts' rows in
    that time only)."""
    min_score = MIN_SCORE if min_score is None else min_score
    baseline = BASELINE if baseline is None else baseline
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
    lo = min(rows["t0"]) - baseline  # type: ignore[type-var,operator]
    hi = max(rows["t1_foothold"])  # type: ignore[type-var]
    e = events
    t = enriched(
        e.filter(
            e.kind.isin([k.value for k in CREDENTIAL_KINDS]),
            e.outcome != "failure",
            e.user.isin(users),
            e.ts >= lo,
            e.ts <= hi,
        )
    )
    t = t.mutate(
        src=t.src_asset.fill_null(t.src_host).fill_null(t.src_ip),
        dst=t.dst_asset.fill_null(t.dst_host).fill_null(t.dst_ip),
    ).filter(lambda x: x.src.notnull() & x.dst.notnull() & (x.src != x.dst))
    # Each finding against its own baseline (the ``baseline`` before it began), so the answer
    # is the same whichever other findings a run follows (a daily run follows fewer).
    j = t.inner_join(
        watch,
        [
            t.user == watch.f_user,
            t.src == watch.f_host,
            t.ts >= watch.t0 - ibis.interval(seconds=int(baseline.total_seconds())),
            t.ts <= watch.t1_foothold,
        ],
    )
    before = j.filter(j.ts < j.t0)
    used = before.select("fid", "f_host").distinct()  # not a foothold: used from there before
    reached = before.select("fid", "f_host", "dst").distinct()  # edges that are not new
    after = j.filter(j.ts >= j.t0)
    after = after.anti_join(reached, ["fid", "f_host", "dst"])
    after = after.left_join(used.mutate(known=True), ["fid", "f_host"])
    j = after.filter(
        after.ts <= ibis.ifelse(after.known.fill_null(False), after.t1, after.t1_foothold)
    )
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
            f"more host(s) it had not reached from them in the {BASELINE.days} days before: "
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
