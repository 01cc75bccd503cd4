"""Group findings into incidents and rank them: the analyst's short queue.

Findings join one incident when they share an *actor* (an account, or a source host or IP, never a
destination: every finding reaching the same domain controller is not one intruder) and their
time spans lie within ``gap_days`` of each other. Risk adds each detector's strongest finding, so
two independent kinds of evidence outrank many copies of one, plus a small bonus for volume.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pyarrow as pa

from ashiato.detect.common import short_list
from ashiato.detect.spec import SEVERITIES, Finding
from ashiato.events import INCIDENT


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group(findings: list[Finding], gap_days: float = 7.0) -> list[list[Finding]]:
    """Connected components of findings linked by a shared actor within ``gap_days``."""
    order = sorted(findings, key=lambda f: (f.first_seen, f.finding_id))
    uf = _UnionFind(len(order))
    gap = timedelta(days=gap_days)
    by_actor: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(order):
        for a in set(f.actors):
            by_actor[a].append(i)
    for idx in by_actor.values():
        # idx is sorted by first_seen: link consecutive findings whose spans come close.
        reach = order[idx[0]].last_seen
        for prev, cur in itertools.pairwise(idx):
            f = order[cur]
            if f.first_seen - reach <= gap:
                uf.union(prev, cur)
                reach = max(reach, f.last_seen)
            else:
                reach = f.last_seen
    comps: dict[int, list[Finding]] = defaultdict(list)
    for i, f in enumerate(order):
        comps[uf.find(i)].append(f)
    return list(comps.values())


def risk(findings: list[Finding]) -> float:
    best: dict[str, float] = {}
    for f in findings:
        best[f.detector] = max(best.get(f.detector, 0.0), f.score)
    return round(sum(best.values()) + 5.0 * math.log2(len(findings)), 2)


def _summary(fs: list[Finding], accounts: list[str], sites: list[str]) -> str:
    dets = sorted({f.title for f in fs})
    return (
        f"{len(fs)} finding(s) from {len({f.detector for f in fs})} detector(s) involving "
        f"account(s) {short_list(accounts) or 'none'} across "
        f"{short_list(sites) or 'unknown sites'}. "
        f"Strongest: {max(fs, key=lambda f: f.score).reason} Other findings: {short_list(dets, 3)}."
    )


def incidents_table(findings: list[Finding], gap_days: float = 7.0) -> pa.Table:
    """Build the ranked INCIDENT table (highest risk first)."""
    rows: list[dict[str, Any]] = []
    for fs in group(findings, gap_days):
        accounts = sorted({a for f in fs for a in f.accounts})
        hosts = sorted({h for f in fs for h in f.hosts})
        sites = sorted({s for f in fs for s in f.sites})
        ips = sorted({i for f in fs for i in f.ips})
        first = min(fs, key=lambda f: (f.first_seen, f.finding_id))
        sev = max((f.severity for f in fs), key=SEVERITIES.index)
        title_who = short_list(accounts, 2) or short_list([a for f in fs for a in f.actors], 2)
        rows.append(
            {
                "incident_id": "I-" + hashlib.sha256(first.finding_id.encode()).hexdigest()[:12],
                "title": f"{title_who}: {short_list(sorted({f.title for f in fs}), 2)}",
                "risk": risk(fs),
                "severity": sev,
                "status": "new",
                "first_seen": min(f.first_seen for f in fs),
                "last_seen": max(f.last_seen for f in fs),
                "entities": {"accounts": accounts, "hosts": hosts, "sites": sites, "ips": ips},
                "finding_ids": [f.finding_id for f in sorted(fs, key=lambda f: -f.score)],
                "detectors": sorted({f.detector for f in fs}),
                "n_findings": len(fs),
                "summary": _summary(fs, accounts, sites),
            }
        )
    rows.sort(key=lambda r: (-r["risk"], r["first_seen"], r["incident_id"]))
    return pa.Table.from_pylist(rows, schema=INCIDENT)
