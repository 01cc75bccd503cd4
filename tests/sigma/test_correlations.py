"""Each Sigma v2 correlation type, with group-by and timespan, on events with known answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ashiato.sigma import compile_rules, correlate, load_rules
from tests.sigma.conftest import security_event

BASE = """\
title: Logon failure
name: failed
id: 20000000-0000-0000-0000-000000000001
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Logon success
name: success
id: 20000000-0000-0000-0000-000000000002
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
---
title: Kerberos pre-auth failure
name: preauth
id: 20000000-0000-0000-0000-000000000003
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4771}
  condition: sel
"""

CORRELATIONS = """\
title: Brute force
id: 30000000-0000-0000-0000-000000000001
level: high
tags: [attack.credential-access, attack.t1110.001]
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 3}
---
title: Spray
id: 30000000-0000-0000-0000-000000000002
correlation:
  type: value_count
  rules: [preauth]
  group-by: [IpAddress]
  timespan: 10m
  condition: {gte: 3, field: TargetUserName}
---
title: Fail and success
id: 30000000-0000-0000-0000-000000000003
correlation:
  type: temporal
  rules: [failed, success]
  group-by: [TargetUserName]
  timespan: 5m
---
title: Fail then success
id: 30000000-0000-0000-0000-000000000004
correlation:
  type: temporal_ordered
  rules: [failed, success]
  group-by: [TargetUserName]
  timespan: 5m
---
title: Exactly two failures
id: 30000000-0000-0000-0000-000000000005
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 2, lte: 2}
"""

# (event id, hour, minute, event code, user, ip)
EVENTS = [
    ("a1", 10, 0, 4625, "alice", "10.0.0.1"),
    ("a2", 10, 1, 4625, "Alice", "10.0.0.1"),
    ("a3", 10, 2, 4625, "alice", "10.0.0.1"),
    ("a4", 10, 30, 4625, "alice", "10.0.0.1"),
    ("b1", 10, 0, 4625, "bob", "10.0.0.2"),
    ("b2", 10, 10, 4625, "bob", "10.0.0.2"),
    ("c1", 11, 40, 4625, "carol", "10.0.0.3"),
    ("c2", 11, 42, 4624, "carol", "10.0.0.3"),
    ("d1", 11, 50, 4624, "dave", "10.0.0.4"),
    ("e1", 12, 0, 4624, "erin", "10.0.0.5"),
    ("e2", 12, 1, 4625, "erin", "10.0.0.5"),
    ("f1", 13, 10, 4625, "frank", "10.0.0.6"),
    ("f2", 13, 12, 4624, "frank", "10.0.0.6"),
    ("s1", 14, 0, 4771, "u1", "10.9.0.5"),
    ("s2", 14, 1, 4771, "u2", "10.9.0.5"),
    ("s3", 14, 2, 4771, "u3", "10.9.0.5"),
    ("t1", 14, 0, 4771, "u1", "10.9.0.6"),
    ("t2", 14, 1, 4771, "U1", "10.9.0.6"),
    ("t3", 14, 2, 4771, "u1", "10.9.0.6"),
    ("n1", 14, 3, 4625, None, "10.9.0.7"),  # no TargetUserName: in no group
    ("n2", 14, 3, 4625, None, "10.9.0.7"),
    ("n3", 14, 3, 4625, None, "10.9.0.7"),
]


def _rows() -> list[dict[str, Any]]:
    return [security_event(*e) for e in EVENTS]


def _results(rules_dir: Callable[..., Path], store_con: Callable[..., Any]) -> dict[str, Any]:
    compiled = compile_rules(load_rules([rules_dir({"base.yml": BASE, "corr.yml": CORRELATIONS})]))
    assert not compiled.skipped, compiled.skipped
    con, table = store_con(_rows())
    return {
        c.meta.title: [(dict(m.group), list(m.event_ids)) for m in correlate(con, c, table)]
        for c in compiled.correlations
    }, compiled


def test_correlation_types(rules_dir: Callable[..., Path], store_con: Callable[..., Any]) -> None:
    got, _ = _results(rules_dir, store_con)
    assert got["Brute force"] == [({"TargetUserName": "alice"}, ["a1", "a2", "a3"])]
    assert got["Spray"] == [({"IpAddress": "10.9.0.5"}, ["s1", "s2", "s3"])]
    assert got["Fail and success"] == [
        ({"TargetUserName": "carol"}, ["c1", "c2"]),
        ({"TargetUserName": "erin"}, ["e1", "e2"]),
        ({"TargetUserName": "frank"}, ["f1", "f2"]),
    ]
    assert got["Fail then success"] == [
        ({"TargetUserName": "carol"}, ["c1", "c2"]),
        ({"TargetUserName": "frank"}, ["f1", "f2"]),
    ]
    # Range (gte 2 and lte 2): only the window ending at a2 holds exactly two failures; the one
    # ending at a3 holds three. bob's failures are 10 minutes apart.
    assert got["Exactly two failures"] == [({"TargetUserName": "alice"}, ["a1", "a2"])]


def test_base_rules_of_correlations_make_no_findings_of_their_own(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    from ashiato.sigma import run_rules

    _, compiled = _results(rules_dir, store_con)
    con, table = store_con(_rows())
    findings = run_rules(con, compiled, table=table)
    titles = sorted({f.title for f in findings})
    assert "Logon failure" not in titles
    brute = next(f for f in findings if f.title == "Brute force")
    assert brute.detector == "sigma:30000000-0000-0000-0000-000000000001"
    assert (brute.severity, brute.score, brute.techniques) == ("high", 70.0, ("T1110.001",))
    assert brute.evidence == ("a1", "a2", "a3") and brute.evidence_count == 3
    assert brute.accounts == ("alice",) and "alice" in brute.actors
    assert "Brute force" in brute.reason and "TargetUserName=alice" in brute.reason


def test_run_reads_the_same_correlation_matches_from_the_flattened_events(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """``run_rules`` evaluates the base rules over its flattened table (``correlate(...,
    flat=...)``): the same matches as ``correlate`` over the events themselves."""
    from ashiato.sigma import run_rules

    got, compiled = _results(rules_dir, store_con)
    con, table = store_con(_rows())
    findings = run_rules(con, compiled, table=table)
    ran: dict[str, list[Any]] = {}
    for f in findings:
        if f.details.get("kind"):
            ran.setdefault(f.title, []).append((f.details["group"], list(f.evidence)))
    assert ran == {title: matches for title, matches in got.items() if matches}
