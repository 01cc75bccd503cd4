"""run_rules: matches grouped per rule and actor in the engine, actors past the cap folded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.sigma.run import run_rules
from tests.sigma.conftest import compile_text, win

RULE = """
title: Network logon
id: 5b0f4c1e-0000-4000-8000-000000000001
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624, LogonType: 3}
  condition: selection
level: low
"""


def test_actors_past_the_cap_fold_into_one_finding(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    rows = [win(i, 4624, TargetUserName=f"u{i % 5}", LogonType="3") for i in range(12)]
    for r in rows:
        r["user"] = r["raw"]["TargetUserName"]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, RULE)
    whole = run_rules(con, compiled, table=table, max_findings_per_rule=None)
    assert len(whole) == 5 and sum(f.evidence_count for f in whole) == 12
    capped = run_rules(con, compiled, table=table, max_findings_per_rule=2, max_evidence=2)
    assert len(capped) == 3
    folded = [f for f in capped if f.key == "*others*"]
    assert len(folded) == 1 and folded[0].details["folded_actors"] == 3
    assert folded[0].actors == () and len(folded[0].evidence) == 2
    assert sum(f.evidence_count for f in capped) == 12  # matches per rule are kept exactly
    kept = {f.accounts for f in capped if f.key != "*others*"}
    assert kept == {("u0",), ("u1",)}  # the actors with the most events (3 each), then by time
