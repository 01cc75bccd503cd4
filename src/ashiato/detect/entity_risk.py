"""Entity risk: how much suspicion each account and host has gathered, fading with time.

Incidents group findings; analysts also ask "which accounts and hosts should I look at first?".
Each finding adds its score to every entity it names (accounts, and hosts that act), decayed by
its age at the end of the data with a half-life of ``half_life_days``: an account with many
fresh findings from several detectors outranks one with a single old alarm.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.detect.spec import Finding
from ashiato.events import ENTITY_RISK


def _loopback(name: str) -> bool:
    """127.x and ::1 name "this machine", not a host anyone can look at."""
    return name.startswith("127.") or name == "::1"


def entity_risk_table(
    findings: list[Finding], as_of: datetime | None, half_life_days: float = 7.0
) -> pa.Table:
    """One row per entity named by a finding, highest risk first."""
    risk: dict[tuple[str, str], float] = defaultdict(float)
    dets: dict[tuple[str, str], set[str]] = defaultdict(set)
    count: dict[tuple[str, str], int] = defaultdict(int)
    first: dict[tuple[str, str], datetime] = {}
    last: dict[tuple[str, str], datetime] = {}
    for f in findings:
        age = max((as_of - f.last_seen).total_seconds(), 0.0) / 86400 if as_of else 0.0
        weight = f.score * math.pow(0.5, age / half_life_days)
        keys = {("account", a) for a in f.accounts}
        keys |= {("host", h) for h in f.actors if h not in f.accounts and not _loopback(h)}
        for k in keys:
            risk[k] += weight
            dets[k].add(f.detector)
            count[k] += 1
            first[k] = min(first.get(k, f.first_seen), f.first_seen)
            last[k] = max(last.get(k, f.last_seen), f.last_seen)
    rows: list[dict[str, Any]] = [
        {
            "entity": name,
            "entity_type": kind,
            "risk": round(value, 2),
            "n_findings": count[(kind, name)],
            "detectors": sorted(dets[(kind, name)]),
            "first_seen": first[(kind, name)],
            "last_seen": last[(kind, name)],
        }
        for (kind, name), value in risk.items()
    ]
    rows.sort(key=lambda r: (-r["risk"], r["entity_type"], r["entity"]))
    return pa.Table.from_pylist(rows, schema=ENTITY_RISK)
