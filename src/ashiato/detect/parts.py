"""A detector's findings kept per judged day ("parts") and merged back into one per finding id.

A finding whose key recurs on several days is stored once per day (``fold``); merging takes the
earliest first seen, the latest last seen, the evidence counts summed, the evidence concatenated
up to ``MAX_EVIDENCE`` ids and the words of the strongest (or latest) day, followed by how long
it went on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa

from ashiato.detect.common import MAX_EVIDENCE, fmt_ts
from ashiato.detect.spec import Finding


def finding_from_row(row: Mapping[str, Any]) -> Finding:
    """A part's row (a FINDING row and the finding's ``key``) as a ``Finding`` again; a
    FINDING row without a key keeps its stored id."""
    details = json.loads(row["details"] or "{}")
    actors = tuple(details.pop("actors", []) or ())
    ent = row["entities"] or {}
    return Finding(
        detector=row["detector"],
        detector_version=row["detector_version"],
        title=row["title"],
        severity=row["severity"],
        score=float(row["score"]),
        techniques=tuple(row["technique"] or ()),
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        accounts=tuple(ent.get("accounts") or ()),
        hosts=tuple(ent.get("hosts") or ()),
        sites=tuple(ent.get("sites") or ()),
        ips=tuple(ent.get("ips") or ()),
        reason=row["reason"],
        evidence=tuple(row["evidence"] or ()),
        evidence_count=int(row["evidence_count"]),
        key=row.get("key") or "",
        actors=actors,
        details=details,
        stored_id=None if row.get("key") else row["finding_id"],
    )


def merge_findings(parts: pa.Table, *, latest: bool = False) -> list[Finding]:
    """The findings of a detector's per-day parts, one per finding id (see the module);
    ``latest``: the words of the latest part rather than the strongest."""
    by_id: dict[str, list[Finding]] = defaultdict(list)
    for row in parts.to_pylist():
        by_id[row["finding_id"]].append(finding_from_row(row))
    return [_merge(group, latest) for group in by_id.values()]


def _merge(parts: list[Finding], latest: bool = False) -> Finding:
    if len(parts) == 1:
        return parts[0]
    parts = sorted(parts, key=lambda f: (f.first_seen, f.last_seen))
    if latest:
        best = max(parts, key=lambda f: (f.last_seen, f.score))
    else:
        best = max(parts, key=lambda f: (f.score, -f.first_seen.timestamp()))
    evidence: list[str] = []
    seen: set[str] = set()
    for f in parts:
        for e in f.evidence:
            if e not in seen and len(evidence) < MAX_EVIDENCE:
                seen.add(e)
                evidence.append(e)
    count = sum(f.evidence_count for f in parts)
    first = min(f.first_seen for f in parts)
    last = max(f.last_seen for f in parts)
    days = len({f.first_seen.date() for f in parts})

    def union(get: Callable[[Finding], tuple[str, ...]]) -> tuple[str, ...]:
        return tuple(sorted({v for f in parts for v in get(f)}))

    actors = list(best.actors) + sorted({a for f in parts for a in f.actors} - set(best.actors))
    return replace(
        best,
        first_seen=first,
        last_seen=last,
        evidence=tuple(evidence),
        evidence_count=count,
        accounts=union(lambda f: f.accounts),
        hosts=union(lambda f: f.hosts),
        sites=union(lambda f: f.sites),
        ips=union(lambda f: f.ips),
        techniques=union(lambda f: f.techniques),
        actors=tuple(actors),
        reason=f"{best.reason} It went on from {fmt_ts(first)} to {fmt_ts(last)}: {count:,} "
        f"events on {days} day(s).",
        details={**best.details, "days": days},
    )
