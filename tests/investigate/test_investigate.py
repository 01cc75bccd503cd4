"""The entry point: every kind of id, JSON that round-trips, a terminal rendering, clear errors."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from ashiato.errors import AshiatoError
from ashiato.investigate import investigate
from tests.investigate.conftest import Estate

C1 = "c1-valid-admin-th-id-ph"


def test_account_finds_the_same_intrusion(estate: Estate) -> None:
    inv = estate.investigate("account", "adm-yamaguchi")
    truth = estate.campaigns[C1]
    assert sorted(inv.seeds.hosts) == sorted(truth["src_hosts"])
    assert set(inv.scope.touched_hosts) == set(truth["hosts"])


def test_json_and_terminal(estate: Estate) -> None:
    inv = estate.of(C1)
    doc = json.loads(json.dumps(inv.to_json()))
    assert doc["seeds"]["id"] == estate.incident[C1]
    assert doc["exfiltration"]["verdict"] == "evidence of exfiltration"
    assert len(doc["timeline"]) == inv.timeline.num_rows
    assert {h["host"] for h in doc["scope"]["hosts"]} >= set(estate.campaigns[C1]["hosts"])
    console = Console(record=True, width=160)
    console.print(inv)
    text = console.export_text()
    for needle in ("th-bkk-ws00013", "jp-osa-fs01", "Exfiltration", "Onset", "1 campaign"):
        assert needle in text


def test_unknown_incident_is_a_clear_error(estate: Estate) -> None:
    with pytest.raises(AshiatoError, match="no incident 'I-nope'"):
        investigate(estate.store, estate.inventory, "incident", "I-nope")


def test_cli_json_and_timeline_file(estate: Estate, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from ashiato.cli import app

    inv_dir = estate.root / "sim" / "inventory"
    args = ["--store", str(estate.store), "--inventory", str(inv_dir)]
    out = tmp_path / "timeline.csv"
    cmd = ["investigate", "incident", estate.incident[C1], *args, "--json"]
    run = CliRunner().invoke(app, [*cmd, "--timeline", str(out)])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout.strip().splitlines()[-1])
    assert doc["exfiltration"]["verdict"] == "evidence of exfiltration"
    rows = out.read_text().splitlines()
    assert len(rows) == len(doc["timeline"]) + 1  # a header line
    bad = CliRunner().invoke(app, ["investigate", "planet", "x", *args])
    assert bad.exit_code != 0 and "unknown kind 'planet'" in bad.output


def test_terminal_shows_hostile_names_as_data() -> None:
    import io
    from datetime import UTC, datetime

    from ashiato.investigate.model import (
        Actors,
        Campaign,
        Investigation,
        ReachedHost,
        Scope,
        Seeds,
    )
    from tests.hostile import ISSUE_11, raw_controls

    when = datetime(2026, 9, 6, tzinfo=UTC)
    host = "ws\x1b]0;owned\x07[bold]x[/]\u202e"
    seeds = Seeds("incident", "I-1", [ISSUE_11], [host], when, when)
    reached = ReachedHost(
        host, "TH-BKK", "workstation", True, False, when, [], [ISSUE_11], 1, 0, {"=C$\n": []}, False
    )
    actors = Actors([Campaign([host], ["TH-BKK"], [ISSUE_11], when, when)], [], [], [])
    inv = Investigation(seeds, Scope(seeds, [reached], [], [], []), actors=actors)
    out = io.StringIO()
    Console(file=out, width=300, force_terminal=False, color_system=None).print(inv)
    text = out.getvalue()
    assert not raw_controls(text), text
    assert "[bold]x[/]" in text and "\\x1b[2J" in text
