"""Chained Sigma v2 correlations: an inner correlation's matches are the outer one's events.

An inner match stands at each instant its condition held (each qualifying window's end), carries
the inner group-by values, counts once per window however many instants it has there, and brings
its own evidence into the outer match.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.sigma import compile_rules, correlate, load_rules, run_rules
from tests.conftest import ts
from tests.sigma.conftest import security_event

RULES = """\
title: Logon failure
name: failed
id: 40000000-0000-0000-0000-000000000001
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Logon success
name: success
id: 40000000-0000-0000-0000-000000000002
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
---
title: Burst
name: burst
id: 40000000-0000-0000-0000-000000000003
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 3}
---
title: Burst then success
id: 40000000-0000-0000-0000-000000000004
level: high
correlation:
  type: temporal_ordered
  generate: false
  rules: [burst, success]
  group-by: [TargetUserName]
  timespan: 10m
---
title: Two bursts in an hour
id: 40000000-0000-0000-0000-000000000005
correlation:
  type: event_count
  rules: [burst]
  group-by: [TargetUserName]
  timespan: 1h
  condition: {gte: 2}
"""

NOT_CARRIED = """\
title: Burst then success per address
id: 40000000-0000-0000-0000-000000000006
correlation:
  type: temporal_ordered
  rules: [burst, success]
  group-by: [IpAddress]
  timespan: 10m
"""


def _events() -> list[tuple[str, int, int, int, str]]:
    out = [
        # alice: a burst, then a success: fires
        ("a1", 10, 0, 4625, "alice"),
        ("a2", 10, 1, 4625, "Alice"),
        ("a3", 10, 2, 4625, "alice"),
        ("a4", 10, 5, 4624, "alice"),
        # bob: the success comes before the burst: silent
        ("b0", 10, 0, 4624, "bob"),
        ("b1", 10, 1, 4625, "bob"),
        ("b2", 10, 2, 4625, "bob"),
        ("b3", 10, 3, 4625, "bob"),
        # carol: the success comes before the third failure, i.e. before the burst: silent
        ("c1", 11, 0, 4625, "carol"),
        ("c2", 11, 1, 4625, "carol"),
        ("c3", 11, 2, 4624, "carol"),
        ("c4", 11, 3, 4625, "carol"),
        # erin: a burst, then a success 30 minutes later (outer timespan 10m): silent
        ("e1", 12, 0, 4625, "erin"),
        ("e2", 12, 1, 4625, "erin"),
        ("e3", 12, 2, 4625, "erin"),
        ("e4", 12, 32, 4624, "erin"),
        # frank: two bursts half an hour apart: "two bursts" fires
        ("f1", 13, 0, 4625, "frank"),
        ("f2", 13, 1, 4625, "frank"),
        ("f3", 13, 2, 4625, "frank"),
        ("f4", 13, 30, 4625, "frank"),
        ("f5", 13, 31, 4625, "frank"),
        ("f6", 13, 32, 4625, "frank"),
        # gina: one burst of five failures holds its condition three times: still one burst
        *[(f"g{i}", 14, i, 4625, "gina") for i in range(5)],
    ]
    # dave: a success in the middle of a long burst still follows a burst
    out += [(f"d{i:02d}", 15, i, 4625, "dave") for i in range(20)]
    out.append(("d_ok", 15, 10, 4624, "dave"))
    return out


def _rows() -> list[dict[str, Any]]:
    return [security_event(*e) for e in _events()]


def test_inner_matches_are_events_of_the_outer_correlation(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    compiled = compile_rules(load_rules([rules_dir({"r.yml": RULES})]))
    assert not compiled.skipped, compiled.skipped
    titles = [c.meta.title for c in compiled.correlations]
    assert titles.index("Burst") < titles.index("Burst then success")
    con, table = store_con(_rows())
    cache: dict[int, Any] = {}
    got = {
        c.meta.title: {dict(m.group)["TargetUserName"]: m for m in correlate(con, c, table, cache)}
        for c in compiled.correlations
    }
    chain = got["Burst then success"]
    assert sorted(chain) == ["alice", "dave"]
    assert chain["alice"].event_ids == ("a1", "a2", "a3", "a4")
    assert chain["alice"].first_seen == ts(1, 10, 0)
    assert chain["alice"].last_seen == ts(1, 10, 5)
    # dave's success sits inside his burst: the inner match's whole evidence comes along
    assert "d_ok" in chain["dave"].event_ids
    assert set(chain["dave"].event_ids) == {f"d{i:02d}" for i in range(20)} | {"d_ok"}
    # counted once per inner match, not once per instant at which its condition held
    assert sorted(got["Two bursts in an hour"]) == ["frank"]
    assert got["Two bursts in an hour"]["frank"].metric == 2
    assert len(got["Burst"]["gina"].instants) == 3


def test_run_rules_reports_the_chain_and_not_its_inner_correlation(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    compiled = compile_rules(load_rules([rules_dir({"r.yml": RULES})]))
    con, table = store_con(_rows())
    findings = run_rules(con, compiled, table=table)
    titles = sorted({f.title for f in findings})
    assert titles == ["Burst then success", "Two bursts in an hour"]
    alice = next(f for f in findings if f.title == "Burst then success" and "alice" in f.accounts)
    assert alice.evidence == ("a1", "a2", "a3", "a4") and alice.evidence_count == 4


def test_an_outer_group_by_the_inner_matches_do_not_carry_is_skipped(
    rules_dir: Callable[..., Path],
) -> None:
    compiled = compile_rules(load_rules([rules_dir({"r.yml": RULES, "n.yml": NOT_CARRIED})]))
    (skip,) = compiled.skipped
    assert skip.rule_id == "40000000-0000-0000-0000-000000000006"
    assert "'IpAddress' is not a group-by field of correlation 'burst'" in skip.reason


def test_a_long_burst_keeps_the_first_ids_and_counts_them_all(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any], monkeypatch: Any
) -> None:
    """A stale service credential fails all month: one endless burst. Its matches, and every
    chain built on them, keep the first MATCH_IDS event ids in time order and count the rest
    (the whole lists of such a burst exhausted 24 GiB on a 29,000-terminal estate)."""
    import importlib

    corr_mod = importlib.import_module("ashiato.sigma.correlate")
    monkeypatch.setattr(corr_mod, "MATCH_IDS", 5)
    compiled = compile_rules(load_rules([rules_dir({"r.yml": RULES})]))
    con, table = store_con(_rows())
    cache: dict[int, Any] = {}
    got = {
        c.meta.title: {dict(m.group)["TargetUserName"]: m for m in correlate(con, c, table, cache)}
        for c in compiled.correlations
    }
    burst = got["Burst"]["dave"]
    assert burst.event_ids == ("d00", "d01", "d02", "d03", "d04") and burst.count == 20
    chain = got["Burst then success"]["dave"]
    assert len(chain.event_ids) == 5 and chain.event_ids[0] == "d00"
    assert chain.count == 21  # the burst's 20 and the success
