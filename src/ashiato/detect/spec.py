"""What a detector declares about itself, and the finding it produces.

A detector is one module with a ``SPEC`` and two functions: ``query(ctx) -> ibis.Table`` (the
heavy, engine-portable part: one row per candidate finding) and ``explain(row, ctx) -> Finding``
(plain Python over that small result: score, words, entities). No I/O, no clock, no hidden state;
the runner owns time windows, persistence and grouping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import ibis
import pyarrow as pa

from ashiato.detect.state import StateTable
from ashiato.events import FINDING, EventKind
from ashiato.inventory.model import Inventory

SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Param:
    """A tunable detector parameter with its default and what it means."""

    name: str
    default: float | int | str | bool
    description: str


@dataclass(frozen=True)
class DetectorSpec:
    id: str
    title: str
    version: str
    severity: str
    techniques: tuple[str, ...]
    needs: tuple[EventKind, ...]
    """The kinds a finding's evidence is drawn from: the detector runs when the store holds
    any of them, and is skipped (not even compiled) when it holds none. Kinds a query reads only
    to qualify its candidates (a baseline, an owner's presence) are not listed; a test pins,
    per detector, the kinds its SQL reads beyond these."""
    requires_inventory: bool
    description: str
    params: tuple[Param, ...] = ()
    state: tuple[StateTable, ...] = ()
    """The summaries of the past it judges a day against (``ashiato.detect.state``). A detector
    with state runs one UTC day at a time, ``query`` over the day and ``fold`` to add the day
    to its state; one without reads every event in the store at once."""
    context_days: int = 0
    """Days before the judged one whose raw events a stateful detector also sees (for chains
    that cross midnight); the judged day starts at ``DetectionContext.slice_start``."""

    words: str = "strongest"
    """Whose words a finding judged on several days keeps: its ``strongest`` day's (the
    highest score, the earliest of equals) or its ``latest`` day's (a path that grows each day
    and says all of it each time)."""
    multi_day: bool = False
    """Judges a slice of several UTC days as it would judge them one at a time: each event is
    held against the state plus the slice's earlier days, and ``query`` gives each row the
    ``part_day`` (a date) it would be judged on alone. A batch or catch-up run then reads
    its days in a few slices rather than one query per day (``ashiato.detect.fold``); a
    detector without it is judged one day at a time. ``tests/detect/foldcheck.py`` proves it."""
    by_day: bool = False
    """Judged one UTC day at a time even without state: its findings need no history (a
    per-day signature), so a run over one new day reads that day only."""

    @property
    def stateful(self) -> bool:
        """Run day by day by ``ashiato.detect.fold`` (with or without state tables)."""
        return self.by_day or bool(self.state)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


@dataclass(frozen=True)
class DetectionContext:
    """Everything a detector may look at: enriched events, the inventory, its parameters."""

    events: ibis.Table  # access events joined with endpoint and account attributes
    inventory: Inventory | None
    params: Mapping[str, Any]
    execute: Callable[[ibis.Expr], pa.Table]
    data_start: datetime | None  # earliest event in the store (the baseline's beginning)
    report_since: datetime | None = None  # only findings whose evidence reaches past this
    state: Mapping[str, ibis.Table] = field(default_factory=dict)
    """A stateful detector's tables as they stood before the judged day."""
    data_start_at: ibis.Scalar | None = None
    """``data_start`` as a timestamp expression (read from a table, so a stateful detector's
    SQL is the same for every store and compiled once)."""
    slice_start: ibis.Scalar | None = None
    """A stateful detector's judged day begins here (a timestamp expression: the detector's SQL
    is compiled once and run for each day); ``events`` before it are context only."""
    stages: Mapping[str, ibis.Table] = field(default_factory=dict)
    """A detector's ``STAGES`` as the engine computed them for the judged slice (``staged``)."""


Stage = Callable[[DetectionContext], ibis.Table]


def staged(ctx: DetectionContext, name: str, build: Stage) -> ibis.Table:
    """The detector's intermediate table ``name``: the engine's copy of the slice's when it
    made one, else ``build(ctx)`` inline.

    A day's query and its state tables' folds are separate statements that often share their
    heaviest part (the candidates a query judges, which a fold also keeps). A module lists such
    parts in ``STAGES`` (name -> builder, in order: a later one may read an earlier one); the
    day-by-day engine runs each once per slice into a temporary table, and every statement
    reads that. Elsewhere (``ctx.stages`` empty) the builder runs inline, with the same result.
    """
    got = ctx.stages.get(name)
    return got if got is not None else build(ctx)


@dataclass(frozen=True)
class Finding:
    """One evidence-backed alarm (the FINDING table's row, as Python)."""

    detector: str
    detector_version: str
    title: str
    severity: str
    score: float
    techniques: tuple[str, ...]
    first_seen: datetime
    last_seen: datetime
    accounts: tuple[str, ...]
    hosts: tuple[str, ...]
    sites: tuple[str, ...]
    ips: tuple[str, ...]
    reason: str
    evidence: tuple[str, ...]
    evidence_count: int
    key: str  # the detector's grouping key; the finding id derives from it
    actors: tuple[
        str, ...
    ] = ()  # entities that act (accounts, source hosts): incidents group on them
    details: Mapping[str, Any] = field(default_factory=dict)
    stored_id: str | None = None
    """The id of a finding read back from the store (whose key is not stored)."""

    @property
    def finding_id(self) -> str:
        if self.stored_id is not None:
            return self.stored_id
        return "F-" + hashlib.sha256(f"{self.detector}|{self.key}".encode()).hexdigest()[:16]


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` with no rows, built without pyarrow's pandas probe.

    ``pa.array`` over a Python list (``Schema.empty_table`` too) imports pandas to ask whether
    the list is a pandas object: 0.4 s for a run that found nothing to report.
    """
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def findings_table(findings: list[Finding]) -> pa.Table:
    """Findings as a FINDING Arrow table."""
    if not findings:
        return empty_table(FINDING)
    return pa.Table.from_pylist(
        [
            {
                "finding_id": f.finding_id,
                "detector": f.detector,
                "detector_version": f.detector_version,
                "title": f.title,
                "severity": f.severity,
                "score": float(f.score),
                "technique": list(f.techniques),
                "first_seen": f.first_seen,
                "last_seen": f.last_seen,
                "entities": {
                    "accounts": list(f.accounts),
                    "hosts": list(f.hosts),
                    "sites": list(f.sites),
                    "ips": list(f.ips),
                },
                "reason": f.reason,
                "evidence": list(f.evidence),
                "evidence_count": f.evidence_count,
                "details": json.dumps({**f.details, "actors": list(f.actors)}, default=str),
            }
            for f in findings
        ],
        schema=FINDING,
    )


class DetectorModule(Protocol):
    """The shape of a detector module (checked by a test over the registry)."""

    SPEC: DetectorSpec

    def query(self, ctx: DetectionContext) -> ibis.Table: ...

    def explain(self, row: Mapping[str, Any], ctx: DetectionContext) -> Finding: ...
