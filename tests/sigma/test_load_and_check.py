"""Loader problems name file and rule id; ``rules check`` and ``detect --rules`` via the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ashiato.cli import app
from ashiato.sigma import compile_rules, load_rules
from tests.conftest import event, ts

GOOD = """\
title: Good
id: 40000000-0000-0000-0000-000000000001
level: medium
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624, TargetUserName|startswith: adm}
  condition: sel
"""
MULTI = """\
action: global
logsource: {product: windows, service: security}
level: low
---
title: Multi one
id: 40000000-0000-0000-0000-000000000002
detection: {sel: {EventID: 4625}, condition: sel}
---
title: Unknown modifier
id: 40000000-0000-0000-0000-000000000003
detection: {sel: {TargetUserName|bogus: x}, condition: sel}
"""
SKIPS = """\
title: ECS field
id: 40000000-0000-0000-0000-000000000004
logsource: {product: windows, service: security}
detection: {sel: {process.name: cmd.exe}, condition: sel}
---
title: Linux rule
id: 40000000-0000-0000-0000-000000000005
logsource: {product: linux, service: auth}
detection: {sel: {User: root}, condition: sel}
---
title: Placeholder
id: 40000000-0000-0000-0000-000000000006
logsource: {product: windows, service: security}
detection: {sel: {TargetUserName|expand: '%admins%'}, condition: sel}
"""
BAD_YAML = "title: [unclosed\n"


def _dir(rules_dir: Callable[..., Path]) -> Path:
    return rules_dir(
        {"good.yml": GOOD, "multi.yaml": MULTI, "skips.yml": SKIPS, "bad.yml": BAD_YAML}
    )


def test_problems_name_file_and_rule(rules_dir: Callable[..., Path]) -> None:
    d = _dir(rules_dir)
    ruleset = load_rules([d])
    assert sorted(r.title for r in ruleset.rules) == [
        "ECS field", "Good", "Linux rule", "Multi one", "Placeholder"
    ]  # fmt: skip
    errors = {
        (Path(p.path).name, p.rule_id): p.message for p in ruleset.problems if p.level == "error"
    }
    assert "bad YAML" in errors[("bad.yml", None)]
    assert "bogus" in errors[("multi.yaml", "40000000-0000-0000-0000-000000000003")]
    compiled = compile_rules(ruleset)
    assert sorted(r.meta.title for r in compiled.rules) == ["Good", "Multi one"]
    skipped = {s.rule_id: s.reason for s in compiled.skipped}
    assert "unknown field 'process.name'" in skipped["40000000-0000-0000-0000-000000000004"]
    assert "product 'linux'" in skipped["40000000-0000-0000-0000-000000000005"]
    assert "placeholders" in skipped["40000000-0000-0000-0000-000000000006"]
    assert all(Path(s.path).name == "skips.yml" for s in compiled.skipped)


def test_rules_check_cli(rules_dir: Callable[..., Path]) -> None:
    d = _dir(rules_dir)
    result = CliRunner().invoke(app, ["rules", "check", str(d), "--json"])
    assert result.exit_code == 1, result.output  # errors present
    report = json.loads(result.output)
    assert (report["files"], report["compiled"], report["skipped"], report["errors"]) == (
        4,
        2,
        3,
        2,
    )
    table = CliRunner().invoke(app, ["rules", "check", str(d)])
    assert "2 compiled" in table.output and "process.name" in table.output


def test_detect_with_rules(
    rules_dir: Callable[..., Path], write_events: Callable[[list[dict[str, Any]]], Path]
) -> None:
    d = rules_dir({"good.yml": GOOD, "skips.yml": SKIPS})
    raw = {"Channel": "Security", "EventID": "4624", "TargetUserName": "ADM-sato"}
    store = write_events(
        [
            event(event_id="x1", ts=ts(2), user="adm-sato", src_host="ws9", raw=raw),
            event(event_id="x2", ts=ts(2), user="t.suzuki", raw={**raw, "TargetUserName": "t"}),
        ]
    )
    result = CliRunner().invoke(
        app, ["detect", "--store", str(store), "--rules", str(d), "--no-default-rules"]
    )
    assert result.exit_code == 0, result.output
    from ashiato.store import Store

    findings = Store(store).read_findings().to_pylist()
    sigma = [f for f in findings if f["detector"].startswith("sigma:")]
    assert [(f["title"], f["evidence"]) for f in sigma] == [("Good", ["x1"])]
    assert sigma[0]["entities"]["accounts"] == ["adm-sato"]
    assert "skipped" in result.output or "sigma" in result.output
