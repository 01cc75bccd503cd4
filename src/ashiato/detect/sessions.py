"""Complete a finding's evidence with the session events that belong to its logons.

Windows writes a 4672 (special privileges assigned) for the same logon session right after a
privileged 4624, on the same host for the same account. A finding that cites the logon is about
that session, so its evidence should hold the privilege grant too: analysts see the whole
session, and evaluation counts it. Done once per run, in the engine, over the cited logons only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import ibis
import pyarrow as pa

from ashiato.detect.spec import Finding
from ashiato.events import EventKind

WINDOW_SECONDS = 2
"""How soon after the logon its 4672 is written (same second in practice; 2 s for clock steps)."""


def add_session_events(
    findings: list[Finding],
    events: ibis.Table,
    execute: Callable[[ibis.Expr], pa.Table],
    cap: int = 2000,
) -> list[Finding]:
    """Findings whose cited logons gain the privilege grants of the same sessions."""
    cited = sorted({e for f in findings for e in f.evidence})
    if not cited:
        return findings
    ids = ibis.memtable(pa.table({"cid": pa.array(cited, pa.string())}))
    logons = events.filter(events.kind == EventKind.LOGON.value)
    logons = logons.inner_join(ids, logons.event_id == ids.cid).select(
        l_id=logons.event_id, l_host=logons.log_host, l_user=logons.user, l_ts=logons.ts
    )
    grants = events.filter(events.kind == EventKind.PRIVILEGE_GRANT.value)
    j = logons.inner_join(
        grants,
        [
            grants.log_host == logons.l_host,
            grants.user == logons.l_user,
            grants.ts >= logons.l_ts,
            grants.ts <= logons.l_ts + ibis.interval(seconds=WINDOW_SECONDS),
        ],
    ).select("l_id", g_id=grants.event_id)
    pairs = execute(j)
    extra: dict[str, list[str]] = defaultdict(list)
    for lid, gid in zip(pairs["l_id"].to_pylist(), pairs["g_id"].to_pylist(), strict=True):
        extra[lid].append(gid)
    if not extra:
        return findings
    out = []
    for f in findings:
        have = set(f.evidence)
        added = sorted({g for e in f.evidence for g in extra.get(e, ()) if g not in have})
        if not added:
            out.append(f)
            continue
        out.append(
            replace(
                f,
                evidence=(*f.evidence, *added)[: max(cap, len(f.evidence))],
                evidence_count=f.evidence_count + len(added),
            )
        )
    return out
