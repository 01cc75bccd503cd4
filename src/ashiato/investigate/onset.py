"""Onset: the earliest evidence of the actor, searched for through all history.

Responders need to know since when, not since the first alarm: signs often predate detection
by months. We look for the campaign's accounts used from its source hosts, and for the same
behaviour (a campaign account used from one of the campaign's source sites, or from any site
other than its home site for the first time), and bound the answer by the earliest data held
for those hosts: nothing can be said about time before the logs begin.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.investigate.model import Coverage, Onset, Seeds

HABIT = 0.5
"""A source used on this share of an account's active days is its everyday machine, not a sign."""


def _home_sites(
    accounts: Collection[str], homes: Mapping[str, str | None]
) -> dict[str, str | None]:
    return {a: homes.get(a) for a in accounts}


def find_onset(
    edges: pa.Table,
    seeds: Seeds,
    *,
    source_sites: Collection[str],
    homes: Mapping[str, str | None],
    findings: Collection[dict[str, Any]],
    flagged: Collection[str],
    coverage: Coverage | None,
) -> Onset:
    """Earliest matching event of ``edges`` (credential edges over all history), with confidence.

    Matches: a seed account used from a seed host; a seed account used from a source site that
    is not its home site; a seed account's first use from any site other than its home site.
    An account's everyday source (``habitual_pairs``) matches only through events a finding
    cites. Confidence is high when a finding cites the event or spans its time for that account,
    medium when only the events match.
    """
    accts = set(seeds.accounts)
    hosts = set(seeds.hosts)
    sites = set(source_sites)
    home = _home_sites(accts, homes)
    rows = sorted(
        (r for r in edges.to_pylist() if r["user"] in accts),
        key=lambda r: (r["ts"], r["event_id"]),
    )
    habits = habitual_pairs(rows)
    fl = set(flagged)
    seen_sites: dict[str, set[str | None]] = {a: set() for a in accts}
    matches: list[tuple[dict[str, Any], str]] = []
    for r in rows:
        user, site = r["user"], r["src_site"]
        if (user, r["src"]) in habits and r["event_id"] not in fl:
            pass  # the account's everyday workstation: only what a finding cites counts
        elif r["src"] in hosts:
            matches.append((r, f"{user} used from source host {r['src']}"))
        elif site in sites and site != home[user]:
            matches.append((r, f"{user} used from source site {site} ({r['src']})"))
        elif site is not None and site != home[user] and site not in seen_sites[user]:
            matches.append((r, f"{user} used from {site} for the first time ({r['src']})"))
        seen_sites[user].add(site)
    bound = _coverage_start(coverage, hosts)
    earliest_finding = min(findings, key=lambda f: (f["first_seen"], f["finding_id"]), default=None)
    if earliest_finding is not None and (
        not matches or earliest_finding["first_seen"] < matches[0][0]["ts"]
    ):
        f = earliest_finding
        return Onset(
            f["first_seen"],
            "high",
            bound,
            list(f["evidence"])[:100],
            f"earliest: finding {f['finding_id']} ({f['detector']}: {f['title']}) at "
            f"{f['first_seen'].isoformat()}, before any use of the accounts from the sources",
        )
    if not matches:
        return Onset(
            None, "none", bound, [], "no event matches the campaign's accounts and sources"
        )
    first, why = matches[0]
    ts: datetime = first["ts"]
    covered = first["event_id"] in fl or any(
        f["first_seen"] <= ts <= f["last_seen"]
        and first["user"] in ((f.get("entities") or {}).get("accounts") or [])
        for f in findings
    )
    same_day = [m[0]["event_id"] for m in matches if (m[0]["ts"] - ts).total_seconds() < 86400]
    reason = f"earliest: {why} at {ts.isoformat()} (event {first['event_id']})"
    if bound is not None and ts.date() <= bound.date():
        reason += "; this is where the logs for these hosts begin, so it may have started earlier"
    return Onset(ts, "high" if covered else "medium", bound, same_day[:100], reason)


def habitual_pairs(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(account, source) pairs active on at least ``HABIT`` of the account's active days."""
    user_days: dict[str, set[Any]] = defaultdict(set)
    pair_days: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for r in rows:
        day = r["ts"].date()
        user_days[r["user"]].add(day)
        pair_days[(r["user"], r["src"])].add(day)
    return {p for p, days in pair_days.items() if len(days) >= HABIT * len(user_days[p[0]])}


def _coverage_start(coverage: Coverage | None, hosts: Collection[str]) -> datetime | None:
    """Earliest day of data for the seed hosts (else for any host in the map)."""
    if coverage is None:
        return None
    days = [c.first_day for c in coverage.channels if c.host in hosts]
    if not days:
        return coverage.data_start
    first = min(days)
    if coverage.data_start is not None and coverage.data_start.date().isoformat() == first:
        return coverage.data_start
    return datetime.fromisoformat(first + "T00:00:00+00:00")
