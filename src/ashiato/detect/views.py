"""How findings, incidents and detect runs present themselves: Rich for terminals, JSON lines out.

Kept beside the tables they render so that the CLI, the API and the report show the same thing.
Titles, reasons and entities quote the logs, which the intruder wrote: terminal cells go through
``quote.term`` (no markup parsed, control characters shown escaped) and JSON through
``quote.jsontext`` (C1 controls and bidirectional marks escaped too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table

from ashiato.detect.runner import DetectReport
from ashiato.quote import jsontext, term

_SEV_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}


def _ts(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d %H:%M") if v else ""


def json_lines(table: pa.Table) -> Iterator[str]:
    """One JSON object per row (timestamps as ISO-8601 UTC; details decoded)."""
    for row in table.to_pylist():
        if isinstance(row.get("details"), str):
            row["details"] = json.loads(row["details"])
        yield jsontext.dumps(row, default=_json_default)


def _json_default(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    return str(v)


@dataclass(frozen=True)
class IncidentQueue:
    """The ranked incident queue."""

    incidents: pa.Table
    limit: int = 10

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(title=f"Incident queue ({self.incidents.num_rows} incidents)", expand=True)
        t.add_column("#", justify="right", width=3)
        t.add_column("risk", justify="right", width=5)
        t.add_column("severity", width=8)
        t.add_column("first seen (UTC)", width=16)
        t.add_column("incident", ratio=1)
        for i, r in enumerate(self.incidents.slice(0, self.limit).to_pylist(), 1):
            ent = r["entities"] or {}
            text = term.text(r["title"], style="bold")
            text.append(f"\n{r['incident_id']} · {r['n_findings']} finding(s) · sites ", style="")
            text.append_text(term.text(", ".join(ent.get("sites") or []) or "?"))
            t.add_row(
                str(i),
                f"{r['risk']:.0f}",
                term.text(r["severity"], style=_SEV_STYLE.get(r["severity"], "")),
                _ts(r["first_seen"]),
                text,
            )
        yield t


@dataclass(frozen=True)
class FindingList:
    """Findings, strongest first, each with its reason."""

    findings: pa.Table
    limit: int = 20

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t = Table(title=f"Findings ({self.findings.num_rows})", expand=True, show_lines=True)
        t.add_column("score", justify="right", width=5)
        t.add_column("detector", ratio=1)
        t.add_column("first seen (UTC)", width=16)
        t.add_column("reason", ratio=4)
        for r in self.findings.slice(0, self.limit).to_pylist():
            t.add_row(
                f"{r['score']:.0f}",
                term.text(r["detector"]),
                _ts(r["first_seen"]),
                term.text(r["reason"]),
            )
        yield t


def render_detect_report(rep: DetectReport) -> Group:
    t = Table(title=f"Detect: {rep.events_scanned:,} events in {rep.seconds:.1f} s")
    t.add_column("detector")
    t.add_column("status")
    t.add_column("findings", justify="right")
    t.add_column("seconds", justify="right")
    for r in rep.runs:
        status = f"{r.status} ({r.detail})" if r.detail else r.status
        t.add_row(term.text(r.detector), term.text(status), str(r.findings), f"{r.seconds:.2f}")
    return Group(t, *(term.text(n, style="yellow") for n in rep.notices))
