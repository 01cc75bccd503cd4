"""The events a response is judged on: cut out of the store once, labelled malicious or not.

Replay, planning and verification all ask the same question of history (which events went from
these hosts or sites, or used these accounts?), so one engine query (DuckDB through Ibis) returns
those events with their endpoints resolved to inventory hosts and sites, and the rest is set
arithmetic in Python over a few tens of thousands of rows.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ashiato.events import EventKind
from ashiato.inventory.model import Inventory, Role
from ashiato.investigate.data import Source
from ashiato.investigate.model import Investigation

COLUMNS = (
    "event_id",
    "ts",
    "kind",
    "outcome",
    "user",
    "src",
    "src_ip",
    "src_site",
    "dst",
    "dst_ip",
    "dst_site",
    "dst_role",
    "privileged",
    "log_host",
    "source",
)

FLOW_WINDOW = timedelta(seconds=120)
"""A flow without an account belongs to the intrusion when it joins the same two hosts as one of
the intrusion's credential events within this many seconds, or goes to an exfiltration address."""

MALICIOUS_DEFINITION = (
    "the investigation's credential edges, its timeline events from the intruder's source hosts, "
    "the data-access and exfiltration evidence, the 4672 that accompanies each of those logons, "
    "and network flows (which carry no account) from a source host to a host it reached, or to a "
    "domain controller, within 120 s of one of those events, or to an exfiltration destination; "
    "and, after the onset, the events of the intrusion's accounts from its source hosts where "
    "the account had never been used before the onset; every other event is legitimate"
)


def load_events(
    source: Source,
    *,
    hosts: Iterable[str] = (),
    sites: Iterable[str] = (),
    users: Iterable[str] = (),
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Events from one of ``hosts`` or ``sites``, or by one of ``users``.

    ``src`` and ``dst`` are inventory host names where the address resolves (else the logged
    name or address); ``dst`` falls back to the recording host, as in ``investigate.data``.
    """
    e = source.events
    hs, ss, us = sorted(set(hosts)), sorted(set(sites)), sorted(set(users))
    src = e.src_asset.coalesce(e.src_host, e.src_ip)
    dst = e.dst_asset.coalesce(e.dst_host, e.log_host)
    conds = []
    if hs:
        conds.append(src.isin(hs))
    if ss:
        conds.append(e.src_site.isin(ss))
    if us:
        conds.append(e.user.isin(us))
    if not conds:
        return []
    cond = conds[0]
    for c in conds[1:]:
        cond = cond | c
    t = e.filter(cond)
    if since is not None:
        t = t.filter(t.ts > since)
    t = t.mutate(src=src, dst=dst).select(*COLUMNS).order_by(["ts", "event_id"])
    rows: list[dict[str, Any]] = source.execute(t).to_pylist()
    assets = {a.host: a for a in source.inventory.assets}
    for r in rows:
        a = assets.get(r["dst"] or "")
        if a is not None:
            r["dst_site"] = r["dst_site"] or a.site
            r["dst_role"] = r["dst_role"] or a.role.value
    _pair_privileges(rows)
    for r in rows:
        s = assets.get(r["src"] or "")
        if s is not None and not r["src_site"]:
            r["src_site"] = s.site
    return rows


def _pair_privileges(rows: list[dict[str, Any]]) -> None:
    """Give each 4672 (special privileges, logged without a source) the source of the 4624 it
    follows on the same host for the same account within a second."""
    logons: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for r in rows:
        if r["kind"] == EventKind.LOGON.value and r["user"] and r["src"]:
            logons[(r["log_host"] or "", r["user"])].append((r["ts"], r))
    for v in logons.values():
        v.sort(key=lambda x: x[0])
    for r in rows:
        if r["kind"] != EventKind.PRIVILEGE_GRANT.value or r["src"] or not r["user"]:
            continue
        cands = logons.get((r["log_host"] or "", r["user"]))
        if not cands:
            continue
        i = bisect.bisect_left([c[0] for c in cands], r["ts"] - timedelta(seconds=1))
        if i < len(cands) and cands[i][0] <= r["ts"] + timedelta(seconds=1):
            logon = cands[i][1]
            r["src"], r["src_ip"], r["src_site"] = logon["src"], logon["src_ip"], logon["src_site"]


def crosses_network(r: dict[str, Any]) -> bool:
    """An event between two different known endpoints: something a network rule can stop."""
    return bool(r["src"]) and bool(r["dst"]) and r["src"] != r["dst"]


@dataclass(frozen=True)
class History:
    """The events the plan and replay look at, and which of them are the intrusion's."""

    events: list[dict[str, Any]]
    malicious: frozenset[str]
    onset: datetime
    end: datetime | None  # the last event in the store
    sources: frozenset[str] = frozenset()
    """The hosts the investigation names as the intrusion's sources (never an owner's usual
    hosts, whatever the labels say)."""
    addresses: dict[str, list[str]] = field(default_factory=dict)
    """Inventory host -> its addresses: where a rendered rule meets an event without one."""

    def legit_before_onset(self) -> list[dict[str, Any]]:
        """The baseline for the policy: legitimate events before the intrusion began."""
        return self.legit_until(self.onset)

    def legit_until(self, t: datetime) -> list[dict[str, Any]]:
        """Legitimate events before ``t``: what blocks planned at ``t`` must leave working."""
        return [r for r in self.events if r["ts"] < t and r["event_id"] not in self.malicious]


def investigation_event_ids(inv: Investigation) -> set[str]:
    """Event ids the investigation attributes to the intruder: its credential edges, the
    timeline's events from its source hosts, and the data and exfiltration evidence.

    The rest of the timeline (the same accounts on the same hosts from elsewhere) may be the
    account owner's own work, so it is not counted here.
    """
    ids: set[str] = set(inv.scope.edge_event_ids)
    seeds = set(inv.seeds.hosts)
    if inv.timeline is not None:
        for eid, kind, src in zip(
            inv.timeline.column("event_id").to_pylist(),
            inv.timeline.column("kind").to_pylist(),
            inv.timeline.column("src").to_pylist(),
            strict=True,
        ):
            if kind != "finding" and src in seeds:
                ids.add(eid)
    for d in inv.data:
        ids.update(d.event_ids)
    if inv.exfiltration is not None:
        for h in inv.exfiltration.hosts:
            ids.update(h.event_ids)
    return ids


def _near(times: list[datetime], ts: datetime, window: timedelta) -> bool:
    i = bisect.bisect_left(times, ts - window)
    return i < len(times) and times[i] <= ts + window


def onset_of(inv: Investigation) -> datetime:
    """When the intrusion began: the investigation's onset, else its first finding."""
    return inv.onset.earliest if inv.onset and inv.onset.earliest else inv.seeds.start


def from_sources(
    events: list[dict[str, Any]], sources: set[str], users: set[str], onset: datetime
) -> set[str]:
    """Events of ``users`` from one of ``sources`` after ``onset``, where the account had never
    been used from that host before the onset: the intruder's, not the owner's (an owner who
    works at a host the intrusion started from used it before; those events stay unlabelled)."""
    before = {(r["user"], r["src"]) for r in events if r["ts"] < onset and r["src"] in sources}
    return {
        r["event_id"]
        for r in events
        if r["ts"] >= onset
        and r["user"] in users
        and r["src"] in sources
        and (r["user"], r["src"]) not in before
    }


def label(inv: Investigation, events: list[dict[str, Any]], dcs: set[str]) -> frozenset[str]:
    """The malicious event ids among ``events`` (see ``MALICIOUS_DEFINITION``)."""
    ids = investigation_event_ids(inv)
    seeds = set(inv.seeds.hosts)
    exfil_dst: dict[str, set[str]] = defaultdict(set)
    if inv.exfiltration is not None:
        for h in inv.exfiltration.hosts:
            if h.verdict == "evidence of exfiltration":
                exfil_dst[h.host].update(h.destinations)
    pair: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    by_src: dict[str, list[datetime]] = defaultdict(list)
    logons: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for r in events:
        if r["event_id"] not in ids:
            continue
        if crosses_network(r) and r["src"] in seeds:
            pair[(r["src"], r["dst"])].append(r["ts"])
            by_src[r["src"]].append(r["ts"])
        if r["kind"] == EventKind.LOGON.value and r["user"]:
            logons[(r["log_host"] or "", r["user"])].append(r["ts"])
    for d in (pair, by_src, logons):
        for v in d.values():
            v.sort()
    start, end = inv.seeds.start - FLOW_WINDOW, inv.seeds.end + FLOW_WINDOW
    users = {a.account for a in inv.scope.accounts if not a.account.endswith("$")}
    out = from_sources(events, seeds, users, onset_of(inv))
    for r in events:
        eid = r["event_id"]
        if eid in ids:
            out.add(eid)
        elif r["kind"] == EventKind.PRIVILEGE_GRANT.value:
            # 4672 follows the intruder's own 4624 on the same host for the same account
            ts = logons.get((r["log_host"] or "", r["user"] or ""))
            if ts and _near(ts, r["ts"], timedelta(seconds=1)):
                out.add(eid)
        elif (
            r["kind"] == EventKind.NETWORK_FLOW.value
            and r["src"] in seeds
            and start <= r["ts"] <= end
        ):
            if r["dst_ip"] in exfil_dst.get(r["src"], ()):
                out.add(eid)
                continue
            ts = pair.get((r["src"], r["dst"]))
            if ts and _near(ts, r["ts"], FLOW_WINDOW):
                out.add(eid)
            elif r["dst"] in dcs and _near(by_src.get(r["src"], []), r["ts"], FLOW_WINDOW):
                out.add(eid)  # the Kerberos and LDAP traffic that goes with a hop
    return frozenset(out)


def store_end(source: Source) -> datetime | None:
    """Time of the last event in the store."""
    e = source.events
    got = source.execute(e.aggregate(end=e.ts.max())).to_pylist()
    end: datetime | None = got[0]["end"] if got else None
    return end


def history_for(source: Source, inventory: Inventory, inv: Investigation) -> History:
    """Events from the intrusion's source hosts and sites, or by its accounts."""
    del inventory  # the source carries it; kept for a uniform signature
    seeds = set(inv.seeds.hosts)
    assets = {a.host: a for a in source.inventory.assets}
    sites = {assets[h].site for h in seeds if h in assets}
    users = {a.account for a in inv.scope.accounts if not a.account.endswith("$")}
    events = load_events(source, hosts=seeds, sites=sites, users=users)
    dcs = {a.host for a in source.inventory.assets if a.role == Role.DOMAIN_CONTROLLER}
    return History(
        events,
        label(inv, events, dcs),
        onset_of(inv),
        store_end(source),
        frozenset(seeds),
        {a.host: [str(ip) for ip in a.ips] for a in source.inventory.assets},
    )
