"""The event codes a rule can match, read off its processed condition tree: a cheap prefilter.

Reading the ``raw`` map is the expensive part of a Sigma scan; ``event_code`` is a plain integer
column. A rule whose condition implies ``EventID`` in a known set (from its logsource category
or its own detections) only needs its map lookups on rows with those codes, and a scan of many
rules only needs the rows of the codes any of them can match. The set is a necessary
condition, never a sufficient one: the rule's own SQL still decides.
"""

from __future__ import annotations

from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaNumber, SigmaString

from ashiato.sigma.fields import COLUMN_FIELDS

CODE_COLUMN = COLUMN_FIELDS["EventID"]


def rule_codes(rule: SigmaRule) -> frozenset[int] | None:
    """Event codes a processed rule can match, or None when any code may match."""
    got: set[int] = set()
    for cond in rule.detection.parsed_condition:
        codes = tree_codes(cond.parsed)
        if codes is None:
            return None
        got |= codes
    return frozenset(got)


def tree_codes(node: Any) -> frozenset[int] | None:
    """AND intersects what its operands know, OR unites (unknown if one is), NOT knows nothing."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node)
    if isinstance(node, ConditionAND):
        known = [c for c in map(tree_codes, node.args) if c is not None]
        if not known:
            return None
        return frozenset.intersection(*known)
    if isinstance(node, ConditionOR):
        union: frozenset[int] = frozenset()
        for c in map(tree_codes, node.args):
            if c is None:
                return None
            union |= c
        return union
    return None


def _leaf(node: ConditionFieldEqualsValueExpression) -> frozenset[int] | None:
    if node.field != CODE_COLUMN:
        return None
    value = node.value
    if isinstance(value, SigmaNumber) and isinstance(value.number, int):
        return frozenset({value.number})
    if isinstance(value, SigmaString) and not value.contains_special():
        text = str(value)
        if text.isdigit():
            return frozenset({int(text)})
    return None


def codes_sql(codes: frozenset[int] | tuple[int, ...]) -> str:
    """``event_code IN (...)`` (``false`` for an empty set: a rule that can match nothing)."""
    if not codes:
        return "false"
    return f'"{CODE_COLUMN}" IN ({", ".join(str(c) for c in sorted(codes))})'
