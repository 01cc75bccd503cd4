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


def test_evidence_is_the_first_events_in_time_order(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    minutes = [5, 1, 3, 1, 0, 2]  # e4 first, then e1 and e3 (same time: by event id)
    rows = [
        win(i, 4624, minute=m, TargetUserName="u", LogonType="3") for i, m in enumerate(minutes)
    ]
    rows += [win(10 + i, 4624, minute=i, TargetUserName=f"v{i}", LogonType="3") for i in range(4)]
    for r in rows:
        r["user"] = r["raw"]["TargetUserName"]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, RULE)
    con.execute("SET memory_limit = '1GB'")
    setting = "SELECT current_setting('memory_limit')"
    before = con.sql(setting).fetchall()[0][0]
    found = run_rules(con, compiled, table=table, max_findings_per_rule=1, max_evidence=3)
    after = con.sql(setting).fetchall()[0][0]  # restored (DuckDB shows it rounded: 0.1 MiB)
    assert after.split()[1] == before.split()[1]
    assert abs(float(after.split()[0]) - float(before.split()[0])) <= 0.2
    kept = [f for f in found if f.key != "*others*"]
    assert len(kept) == 1 and kept[0].accounts == ("u",) and kept[0].evidence_count == 6
    assert kept[0].evidence == ("e4", "e1", "e3")
    assert kept[0].first_seen < kept[0].last_seen
    (folded,) = [f for f in found if f.key == "*others*"]
    # The first event of each of the three earliest folded actors, earliest first.
    assert folded.details["folded_actors"] == 4 and folded.evidence == ("e10", "e11", "e12")


def test_conjuncts_split_only_the_top_level_and() -> None:
    from ashiato.sigma.run import conjuncts

    sql = "x = 'a AND b' AND (c OR d) AND \"q AND r\" = 1 AND y = 'it''s AND'"
    assert conjuncts(sql) == (
        "x = 'a AND b'",
        "(c OR d)",
        '"q AND r" = 1',
        "y = 'it''s AND'",
    )
    assert conjuncts("a AND b OR c") == ("a AND b OR c",)  # an OR on top: one operand
    assert conjuncts("NOT COALESCE(a AND b, false)") == ("NOT COALESCE(a AND b, false)",)


SHARED = """
title: Rule {i}
id: 5b0f4c1e-0000-4000-8000-00000000010{i}
logsource: {{product: windows, service: security}}
detection:
  selection: {{EventID: 4624, LogonType: 3}}
  filter: {{{filter}}}
  condition: {condition}
level: low
"""


def test_chunked_evaluation_matches_each_rule_alone(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """Rules of one chunk share conjuncts (hoisted into the scan, or computed once into a
    column): every rule still matches exactly what it matches evaluated on its own."""
    from ashiato.sigma import compile_rules, load_rules
    from ashiato.sigma.run import HITS, rule_hits

    variants = [
        ("'TargetUserName|endswith': '$'", "selection and not filter"),
        ("'TargetUserName|endswith': '$'", "selection and filter"),
        ("IpAddress: '10.0.0.1'", "selection and not filter"),  # IpAddress often missing
        ("IpAddress: '10.0.0.1'", "selection or filter"),
        ("'WorkstationName|startswith': 'WS'", "selection and not filter"),
        ("'WorkstationName|startswith': 'WS'", "not filter"),
    ]
    files = {
        f"r{i}.yml": SHARED.format(i=i, filter=f, condition=c) for i, (f, c) in enumerate(variants)
    }
    compiled = compile_rules(load_rules([rules_dir(files)]))
    assert not compiled.skipped, compiled.skipped
    rows = []
    for i in range(24):
        raw = {"TargetUserName": f"u{i % 4}" + ("$" if i % 3 == 0 else ""), "LogonType": "3"}
        if i % 2:
            raw["IpAddress"] = "10.0.0.1" if i % 4 == 1 else "10.0.0.2"
        if i % 5:
            raw["WorkstationName"] = "WS1" if i % 5 == 1 else ""
        rows.append(win(i, 4624 if i % 6 else 4625, LogonType=raw.pop("LogonType"), **raw))
    con, table = store_con(rows)
    rule_hits(con, compiled.rules, table)
    got = con.sql(f"SELECT r, list(event_id ORDER BY event_id) FROM {HITS} GROUP BY r").fetchall()
    chunked = dict(got)
    for i, rule in enumerate(compiled.rules):
        alone = con.sql(
            f"SELECT list(event_id ORDER BY event_id) FROM {rule.source(table)} "
            f"WHERE COALESCE(({rule.sql}), false)"
        ).fetchall()[0][0]
        assert chunked.get(i) == alone, (rule.meta.title, rule.sql)
    assert len(chunked) >= 4  # the fixture exercises most rules


def test_folded_evidence_is_capped(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    from ashiato.sigma.run import MAX_FOLDED_EVIDENCE

    n = MAX_FOLDED_EVIDENCE + 30
    rows = [win(i, 4624, TargetUserName=f"u{i}", LogonType="3") for i in range(n)]
    for r in rows:
        r["user"] = r["raw"]["TargetUserName"]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, RULE)
    found = run_rules(con, compiled, table=table, max_findings_per_rule=10)
    (folded,) = [f for f in found if f.key == "*others*"]
    assert folded.details["folded_actors"] == n - 10 and folded.evidence_count == n - 10
    assert len(folded.evidence) == MAX_FOLDED_EVIDENCE
    assert sum(f.evidence_count for f in found) == n


OTHER = """
title: Explicit credentials
id: 5b0f4c1e-0000-4000-8000-000000000002
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4648}
  condition: selection
level: medium
"""


def test_matches_grouped_in_batches_give_the_same_findings(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any], monkeypatch: Any
) -> None:
    """Rules whose matches pass ``HITS_BATCH`` are grouped in several batches (a broad rule
    alone): the same findings as one batch, folding and evidence included."""
    from ashiato.sigma import run

    rows = [
        win(i, 4624, minute=i % 7, TargetUserName=f"u{i % 5}", LogonType="3") for i in range(40)
    ]
    rows += [win(100 + i, 4648, minute=i, TargetUserName=f"v{i % 3}") for i in range(9)]
    for r in rows:
        r["user"] = r["raw"]["TargetUserName"]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, RULE + "---\n" + OTHER)

    def findings(batch: int) -> list[tuple[Any, ...]]:
        monkeypatch.setattr(run, "HITS_BATCH", batch)
        found = run_rules(con, compiled, table=table, max_findings_per_rule=3, max_evidence=4)
        return sorted(
            (f.title, f.key, f.evidence_count, f.evidence, f.first_seen, f.last_seen) for f in found
        )

    tabled, mixed, evaluated = findings(1000), findings(10), findings(0)
    assert len(tabled) == 7  # 3 actors + the folded two of one rule, all 3 actors of the other
    assert tabled == mixed == evaluated
    monkeypatch.setattr(run, "PLAN_BOUND_ROWS", 0)  # the plans of a large store: optimizers on
    assert findings(1000) == tabled


KEYWORD_RULES = """
title: App keyword
id: 5b0f4c1e-0000-4000-8000-000000000003
logsource: {product: windows, service: application}
detection:
  kw: [mimikatz]
  condition: kw
level: high
---
title: Any Windows keyword
id: 5b0f4c1e-0000-4000-8000-000000000004
logsource: {product: windows}
detection:
  kw: [sekurlsa]
  condition: kw
level: high
"""


def test_rules_that_pin_no_event_code_see_their_channels_only(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """Rules without event ids are evaluated on their logsource's channel (or any Windows
    event), not on every row: the same matches as before that filter, flows excluded."""
    from tests.conftest import event, ts

    rows = [
        win(1, 1000, channel="Application", Data="mimikatz here"),
        win(2, 4624, channel="Security", TargetUserName="mimikatz sekurlsa"),
        win(3, 1000, channel="Application", Data="nothing"),
        win(4, 7045, channel="System", ServiceName="sekurlsa::logonpasswords"),
        event(event_id="z1", ts=ts(1, 12, 0), kind="flow", raw={"note": "sekurlsa mimikatz"}),
    ]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, KEYWORD_RULES)
    found = run_rules(con, compiled, table=table)
    by_rule = {f.title: sorted(f.evidence) for f in found}
    assert by_rule == {"App keyword": ["e1"], "Any Windows keyword": ["e2", "e4"]}
