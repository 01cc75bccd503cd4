"""The event-code prefilter: a necessary condition read off each rule, never a wrong one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sigma.conftest import compile_text

RULE = """\
title: t
logsource: {{product: windows, {source}}}
detection:
  a: {{EventID: [4624, 4625]}}
  b: {{EventID: 4625}}
  c: {{TargetUserName: x}}
  condition: {condition}
"""


@pytest.mark.parametrize(
    ("source", "condition", "codes"),
    [
        ("service: security", "a", {4624, 4625}),
        ("service: security", "a and b", {4625}),
        ("service: security", "a and c", {4624, 4625}),
        ("service: security", "b or c", None),  # c alone can match any event
        ("service: security", "c and not b", None),
        ("service: security", "a or b", {4624, 4625}),
        ("category: process_creation", "c", {1, 4688}),  # Sysmon 1 or Security 4688
        ("category: process_creation", "b", set()),  # can match nothing
    ],
)
def test_rule_codes(
    rules_dir: Callable[..., Path], source: str, condition: str, codes: set[int] | None
) -> None:
    (rule,) = compile_text(rules_dir, RULE.format(source=source, condition=condition)).rules
    assert (None if rule.codes is None else set(rule.codes)) == codes
