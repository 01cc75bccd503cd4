"""Findings that did not change since the last run keep what the post-steps added to them.

The post-steps (``follow``, ``sessions``) read events around each finding: the credential's
next hosts, the session's privileges, the tickets behind a logon. Run over every finding on
every run, they cost the history again; yet a finding whose evidence is the same as last run,
and whose last event lies well before every day that changed, would get the same additions.
So such a finding is taken as stored (``findings.parquet``), and only new or changed ones, and
those whose windows reach the changed days, go through the steps. ``SETTLE`` covers the
longest window a step looks after a finding (``follow.FOLLOW``) with a day's margin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.detect.fold import event_files_by_day
from ashiato.detect.follow import FOLLOW
from ashiato.detect.parts import finding_from_row
from ashiato.detect.spec import Finding
from ashiato.store.atomic import atomic_write_bytes, atomic_write_parquet
from ashiato.store.layout import StoreLayout

SETTLE = FOLLOW + timedelta(days=1)
"""A finding ending this long before the earliest changed day is out of the steps' reach."""


STEPS_VERSION = 3
"""Raised when a post-step changes what it adds (2: a foothold is followed for a week; 3: new
against the month before the finding, not the whole history): the run after an upgrade puts
every finding through the steps again instead of keeping old additions."""


def fingerprint(f: Finding) -> str:
    """What the post-steps' additions depend on: the finding as the detectors made it."""
    material = [
        STEPS_VERSION,
        f.finding_id,
        f.first_seen.isoformat(),
        f.last_seen.isoformat(),
        f.score,
        f.evidence_count,
        list(f.evidence),
        list(f.accounts),
        list(f.hosts),
        list(f.ips),
        f.reason,
    ]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:24]


class Settled:
    """The last run's record: each finding's fingerprint before the steps, the event files."""

    def __init__(self, layout: StoreLayout) -> None:
        self.layout = layout
        self.index = layout.root / "state" / "_post" / "index.parquet"
        self.files = layout.root / "state" / "_post" / "files.json"
        self.changed_from: datetime | None = None
        """After ``split``: the start of the earliest day whose event files changed since the
        last run (None: none did, or no run is on record: see ``known``)."""
        self.known = False

    def split(self, findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(findings the steps must see, findings taken as the last run left them)."""
        try:
            before = pq.read_table(self.index).to_pylist()
            old_files = json.loads(self.files.read_text(encoding="utf-8"))
            stored = pq.read_table(self.layout.findings_file).to_pylist()
        except (OSError, ValueError, pa.ArrowInvalid):
            return list(findings), []
        prints = {r["finding_id"]: r["fingerprint"] for r in before}
        rows = {r["finding_id"]: r for r in stored}
        now = event_files_by_day(self.layout)
        changed = [d for d in now if old_files.get(d) != now[d]]
        changed += [d for d in old_files if d not in now]
        self.known = True
        if changed:
            self.changed_from = datetime.fromisoformat(min(changed)).replace(tzinfo=UTC)
        edge = self.changed_from - SETTLE if self.changed_from is not None else None
        fresh, kept = [], []
        for f in findings:
            fid = f.finding_id
            same = prints.get(fid) == fingerprint(f) and fid in rows
            if same and (edge is None or f.last_seen < edge):
                kept.append(finding_from_row(rows[fid]))
            else:
                fresh.append(f)
        return fresh, kept

    def remember(self, findings: Sequence[Finding]) -> None:
        """Record ``findings`` (before the steps) and the event files they were judged over."""
        table = pa.table(
            {
                "finding_id": [f.finding_id for f in findings],
                "fingerprint": [fingerprint(f) for f in findings],
            },
            schema=pa.schema([("finding_id", pa.string()), ("fingerprint", pa.string())]),
        )
        tmp = self.layout.tmp_dir
        atomic_write_parquet(self.index, table, tmp, sync=False)
        body = json.dumps(event_files_by_day(self.layout), sort_keys=True)
        atomic_write_bytes(self.files, body.encode(), tmp)
