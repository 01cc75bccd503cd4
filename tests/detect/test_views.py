"""The incident queue, the findings list and their JSON lines show log values as data: no markup
parsed from them, no raw control character sent to the terminal."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from rich.console import Console

from ashiato.detect.views import FindingList, IncidentQueue, json_lines
from tests.hostile import ISSUE_11, PAYLOADS, raw_controls

WHEN = datetime(2026, 9, 6, 18, tzinfo=UTC)


def shown(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=400, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("name", PAYLOADS)
def test_queue_and_findings_show_names_escaped(name: str) -> None:
    incidents = pa.Table.from_pylist(
        [
            {
                "incident_id": "I-1",
                "title": f"{name}: TH-BKK -> JP-OSA-DC not allowed by policy",
                "entities": {"sites": [name]},
                "n_findings": 1,
                "risk": 10.0,
                "severity": "high",
                "first_seen": WHEN,
            }
        ]
    )
    findings = pa.Table.from_pylist(
        [{"score": 9.0, "detector": "x", "first_seen": WHEN, "reason": f"{name} [blink]b[/]"}]
    )
    for text in (shown(IncidentQueue(incidents)), shown(FindingList(findings))):
        assert not raw_controls(text), text
    assert "[blink]b[/]" in shown(FindingList(findings))


def test_json_lines_are_exact_and_escaped() -> None:
    t = pa.Table.from_pylist([{"user": ISSUE_11, "host": "\u202e\x9b", "details": "{}"}])
    (line,) = list(json_lines(t))
    assert not raw_controls(line, allow="")
    assert json.loads(line)["user"] == ISSUE_11 and json.loads(line)["host"] == "\u202e\x9b"
