"""Standing Sigma findings: one rule firing for the same actors day after day since the data
began is that source's routine, reported once.

A Sigma rule judges events without history, which is what lets it catch an attack in a triage
collection of minutes. Over a month of an estate it also fires, every few minutes, on what a
source has always done: a service retrying a stale password on an application server ("failed
logons, then a success from that address") fired 5,800 times on the 29,000-terminal estate, and
each of those brief findings sat beside whatever else happened on that server, so an intruder
passing through it was merged with the whole month (purity 1 %). As SIEMs suppress repeated
alerts per group of fields, the findings of one rule with the same accounts and actors become one
when they recur on ``min_days`` distinct days and the first lies within the warm-up (the first
``warmup_days`` of data): going on since before anyone could have started something new. The
collapsed finding is an incident of its own and links nothing (``detect.incidents``), its
score drops by ``DISCOUNT`` and its reason says how often and since when. Findings that start
later, however often they recur, stay as they are: an intrusion's nightly hits are not routine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta

from ashiato.detect.common import MAX_EVIDENCE, fmt_ts
from ashiato.detect.incidents import STANDING
from ashiato.detect.spec import Finding

DISCOUNT = 15.0
"""Score taken off a standing finding: it is the source's habit, still worth a look."""

WARMUP_DAYS = 7
MIN_DAYS = 3


def collapse_standing(
    findings: list[Finding],
    data_start: datetime | None,
    *,
    warmup_days: int = WARMUP_DAYS,
    min_days: int = MIN_DAYS,
) -> list[Finding]:
    """``findings`` with each standing group of Sigma findings replaced by one finding."""
    if data_start is None:
        return findings
    warm = data_start + timedelta(days=warmup_days)
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[Finding]] = defaultdict(list)
    out: list[Finding] = []
    for f in findings:
        if f.detector.startswith("sigma:"):
            groups[(f.detector, tuple(sorted(f.accounts)), tuple(sorted(f.actors)))].append(f)
        else:
            out.append(f)
    for fs in groups.values():
        fs.sort(key=lambda f: (f.first_seen, f.finding_id))
        days = _days(fs)
        if len(fs) > 1 and len(days) >= min_days and fs[0].first_seen < warm:
            out.append(_standing(fs, len(days)))
        else:
            out.extend(fs)
    return out


def _days(fs: list[Finding]) -> set[date]:
    """The days the findings cover: a correlation's match can span a month-long episode, and
    every chain built on it then starts and ends on the same two days."""
    days: set[date] = set()
    for f in fs:
        d, end = f.first_seen.date(), f.last_seen.date()
        while d <= end:
            days.add(d)
            d += timedelta(days=1)
    return days


def _standing(fs: list[Finding], days: int) -> Finding:
    first = fs[0]
    top = max(fs, key=lambda f: f.score)
    evidence = tuple(dict.fromkeys(e for f in fs for e in f.evidence))[:MAX_EVIDENCE]
    last = max(f.last_seen for f in fs)
    score = max(0.0, top.score - DISCOUNT)
    reason = (
        f"Standing: this rule fired {len(fs):,} times on {days} days for the same accounts and "
        f"sources, from {fmt_ts(first.first_seen)} (within the first days of the data) to "
        f"{fmt_ts(last)}: the routine of this source rather than a moment (score lowered by "
        f"{DISCOUNT:g}). The first: {first.reason}"
    )
    return replace(
        top,
        title=f"{top.title} (standing: {len(fs):,} times on {days} days)",
        score=score,
        first_seen=first.first_seen,
        last_seen=last,
        hosts=tuple(sorted({h for f in fs for h in f.hosts})),
        sites=tuple(sorted({s for f in fs for s in f.sites})),
        ips=tuple(sorted({i for f in fs for i in f.ips})),
        reason=reason,
        evidence=evidence,
        evidence_count=max([*(f.evidence_count for f in fs), len(evidence)]),
        key=f"standing|{first.key}",
        details={**top.details, STANDING: {"findings": len(fs), "days": days}},
    )
