"""Fields a rule tests that no stored event carries: ``dead_fields`` and ``rules check --store``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ashiato.cli import app
from ashiato.sigma import load_rules
from ashiato.sigma.dead import dead_fields, missing_fields, store_keys
from ashiato.store import Store
from tests.sigma.conftest import compile_text, win


def test_missing_fields_reads_every_alias() -> None:
    keys = {"Provider", "Threat Name", "NewProcessName", "TargetUserName"}
    assert missing_fields(["Provider_Name", "EventID", "TargetUserName"], keys) == []
    assert missing_fields(["ThreatName"], keys, service="windefend") == []
    assert missing_fields(["ThreatName"], keys, service="security") == ["ThreatName"]
    assert missing_fields(["Image", "ParentImage"], keys, "process_creation") == ["ParentImage"]


def test_dead_fields_of_compiled_and_parsed_rules(rules_dir: Callable[..., Path]) -> None:
    text = """
title: Needs A Field Nobody Has
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, service: security}
detection:
  s: {EventID: 4624, TargetUserName: x, NoSuchField|contains: y}
  condition: s
---
title: Fine
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows, service: security}
detection:
  s: {EventID: 1102, Provider_Name: Microsoft-Windows-Eventlog}
  condition: s
"""
    compiled = compile_text(rules_dir, text)
    keys = {"TargetUserName", "Provider"}
    expected = {"00000000-0000-0000-0000-000000000001": ["NoSuchField"]}
    assert dead_fields(compiled.rules, keys) == expected
    assert dead_fields(load_rules([rules_dir({})]).rules, keys) == expected


def test_rules_check_with_a_store_lists_dead_fields(
    rules_dir: Callable[..., Path], write_events: Callable[[list[dict[str, Any]]], Path]
) -> None:
    store = write_events([win(1, 1102, Provider="Microsoft-Windows-Eventlog")])
    assert "Provider" in store_keys(Store(store))
    rules = rules_dir(
        {
            "r.yml": """
title: Needs SubjectUserSid
id: 00000000-0000-0000-0000-000000000003
logsource: {product: windows, service: security}
detection:
  s: {EventID: 1102, Provider_Name: Microsoft-Windows-Eventlog, SubjectUserSid: S-1-5-18}
  condition: s
"""
        }
    )
    runner = CliRunner()
    got = runner.invoke(app, ["rules", "check", str(rules), "--store", str(store), "--json"])
    assert got.exit_code == 0, got.output
    report = json.loads(got.stdout)
    assert report["rules_with_dead_fields"] == 1
    assert report["rules"][0]["dead_fields"] == ["SubjectUserSid"]
    text = runner.invoke(app, ["rules", "check", str(rules), "--store", str(store)])
    assert text.exit_code == 0, text.output
    assert "1 compiled rule(s) test fields that no event" in text.stdout
    assert "SubjectUserSid" in text.stdout
    plain = runner.invoke(app, ["rules", "check", str(rules), "--json"])
    assert "rules_with_dead_fields" not in json.loads(plain.stdout)
