"""Analyst verdicts as data: suppressions that the next detect run applies, with who and why.

A suppression names a detector (or ``*``) and what to match: one finding's identity (its stable
id, so the same alarm never comes back), or an entity (an account, a source host or site) so
that a known benign pattern stops alarming. They live in ``STORE/suppressions.jsonl``: one JSON
object a line, readable, diffable and editable by hand; every change is written atomically.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from ashiato.detect.spec import Finding
from ashiato.errors import AshiatoError
from ashiato.store.atomic import atomic_write_bytes
from ashiato.store.layout import StoreLayout

Verdict = Literal["false_positive", "expected"]
Scope = Literal["finding", "account", "source", "site"]
FILE = "suppressions.jsonl"


@dataclass(frozen=True)
class Suppression:
    """One verdict: what it matches, who set it, why, and until when."""

    id: str
    detector: str  # a detector id, or "*" for every detector
    scope: Scope
    value: str  # the finding id, account, source host/IP, or site it matches
    verdict: Verdict
    by: str
    why: str
    created: str  # ISO-8601 UTC
    expires: str | None = None

    def matches(self, f: Finding, now: datetime | None = None) -> bool:
        if self.detector not in ("*", f.detector):
            return False
        if self.expires and now and now >= datetime.fromisoformat(self.expires):
            return False
        if self.scope == "finding":
            return f.finding_id == self.value
        if self.scope == "account":
            return self.value in f.accounts
        if self.scope == "source":
            return self.value in f.actors
        return self.value in f.sites


def load(layout: StoreLayout) -> list[Suppression]:
    """Every suppression of the store; errors name the file and line."""
    p = layout.root / FILE
    if not p.exists():
        return []
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(Suppression(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise AshiatoError(f"{p}:{n}: not a suppression: {exc}") from exc
    return out


def _save(layout: StoreLayout, items: Sequence[Suppression]) -> None:
    text = "".join(json.dumps(asdict(s), ensure_ascii=False) + "\n" for s in items)
    atomic_write_bytes(layout.root / FILE, text.encode(), layout.tmp_dir)


def add(
    layout: StoreLayout,
    *,
    detector: str,
    scope: Scope,
    value: str,
    verdict: Verdict,
    by: str,
    why: str,
    now: datetime | None = None,
    expires: datetime | None = None,
) -> Suppression:
    """Record a verdict (idempotent: the same detector, scope and value is replaced)."""
    if not by.strip() or not why.strip():
        raise AshiatoError("a suppression needs who set it (--by) and why (--why)")
    stamp = (now or datetime.now(UTC)).isoformat()
    sid = "S-" + hashlib.sha256(f"{detector}|{scope}|{value}".encode()).hexdigest()[:12]
    until = expires.isoformat() if expires else None
    new = Suppression(sid, detector, scope, value, verdict, by, why, stamp, until)
    items = [s for s in load(layout) if s.id != sid] + [new]
    _save(layout, items)
    return new


def remove(layout: StoreLayout, sid: str) -> bool:
    items = load(layout)
    kept = [s for s in items if s.id != sid]
    if len(kept) == len(items):
        return False
    _save(layout, kept)
    return True


def apply(
    findings: Iterable[Finding], rules: Sequence[Suppression], now: datetime | None = None
) -> tuple[list[Finding], dict[str, int]]:
    """Split off suppressed findings: (kept, count of findings each suppression matched)."""
    kept: list[Finding] = []
    hits: dict[str, int] = {}
    for f in findings:
        rule = next((s for s in rules if s.matches(f, now)), None)
        if rule is None:
            kept.append(f)
        else:
            hits[rule.id] = hits.get(rule.id, 0) + 1
    return kept, hits
