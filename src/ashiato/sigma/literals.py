"""Strings a rule's matching event must contain, read off its processed condition tree.

Most rules of a community set match nothing in a given collection, and on a small collection
planning their SQL is most of the pass's cost. A rule whose condition implies "the event's text
contains one of these strings" can be set aside cheaply when no event of its codes contains any
of them (``screen``): one Aho-Corasick pass over the events' text decides it for every rule at
once. Like ``prefilter``'s event codes this is a necessary condition, never a sufficient one:
the rule's own SQL still decides every rule that passes.

A rule's needs are a conjunction of clauses, each a set of lower-cased strings of which the
event's lower-cased text must contain one (the text holds every ``raw`` value, which is where
every field a rule can test by string lives: ``fields.FULLTEXT``). Only positive string tests
give clauses: ``not``, regular expressions, CIDRs, numbers, null and ``exists`` tests, field
references and the logsource's own channel test (present in every event of the channel) give
none. Wildcards split a value: its longest plain run must be in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaString

from ashiato.sigma.fields import RAW_PREFIX
from ashiato.sigma.pipeline import CHANNEL

MIN_LENGTH = 4
"""Shortest string (in UTF-8 bytes) worth a clause: shorter ones (``3``, ``cmd``) are in nearly
every event's text and would only slow the screen down; an emoji is rare enough."""
MAX_CLAUSES = 4
"""Clauses kept per rule (the most selective by ``_rank``): one absent clause sets a rule aside."""

Clause = tuple[str, ...]
Needs = tuple[Clause, ...]


def rule_needs(rule: SigmaRule) -> Needs:
    """The clauses a processed rule's matching event meets (``()``: nothing known). A rule
    with several conditions (one query each) needs what is common to all: nothing, unless
    only one."""
    conds = rule.detection.parsed_condition
    if len(conds) != 1:
        return ()
    return tuple(sorted(tree_needs(conds[0].parsed), key=_rank)[:MAX_CLAUSES])


def tree_needs(node: Any) -> list[Clause]:
    """AND: every operand's clauses hold. OR: one operand holds, so the union of one clause of
    each is a clause (none when an operand knows none). NOT and anything else: none."""
    if isinstance(node, ConditionAND):
        return list(dict.fromkeys(c for arg in node.args for c in tree_needs(arg)))
    if isinstance(node, ConditionOR):
        return _one_of(tree_needs(arg) for arg in node.args)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if not isinstance(node.field, str) or not node.field.startswith(RAW_PREFIX):
            return []  # a typed column (``event_code``): numbers, no text
        if node.field == CHANNEL:
            return []  # the logsource's channel: in every event that could match
        return _value_clause(node.value)
    if isinstance(node, ConditionValueExpression):  # a keyword: searched in the whole text
        return _value_clause(node.value)
    return []


def _value_clause(value: Any) -> list[Clause]:
    if isinstance(value, SigmaExpansion):
        return _one_of(_value_clause(v) for v in value.values)
    if not isinstance(value, SigmaString) or value.contains_placeholder():
        return []
    run = longest_run(value)
    return [(run,)] if _size(run) >= MIN_LENGTH else []


def _one_of(options: Iterable[list[Clause]]) -> list[Clause]:
    """One of ``options`` holds: the union of the best clause of each is a clause (none when
    an option knows none)."""
    picked: set[str] = set()
    for clauses in options:
        if not clauses:
            return []
        best: Clause = min(clauses, key=_rank)
        picked.update(best)
    return [tuple(sorted(picked))]


def longest_run(value: SigmaString) -> str:
    """The longest plain run of ``value`` (between wildcards), lower-cased, of characters that
    lower-case the same here as in DuckDB: ASCII, and characters without case (emoji, CJK).
    A cased non-ASCII character (Cyrillic, say) ends a run."""
    best = ""
    for part in value.s:
        if not isinstance(part, str):
            continue
        for run in "".join(c if same_lower(c) else "\0" for c in part).split("\0"):
            if len(run) > len(best):
                best = run
    return best.lower()


def same_lower(c: str) -> bool:
    return c != "\0" and (c.isascii() or c.lower() == c == c.upper())


def _rank(clause: Clause) -> tuple[int, int]:
    """Most selective first: the longest shortest string, then the fewest strings."""
    return (-min(map(_size, clause)), len(clause))


def _size(text: str) -> int:
    return len(text.encode())


_COLUMN = r'"(?:lower|raw)\.[^"]*"'
_FIELD = rf"(?:COALESCE\({_COLUMN}(?:, {_COLUMN})*\)|{_COLUMN})"
ATOM = re.compile(
    rf"(?:contains|ends_with|starts_with)\({_FIELD}, '((?:[^']|'')*)'\)"
    rf"|{_FIELD} = '((?:[^']|'')*)'"
)
"""A string test of the backend over flattened columns (``backend._match``): ``contains``,
``ends_with``, ``starts_with`` or equality with a literal. True only where the column's text,
hence the event's text, holds the literal."""


def _screenable(literal: str) -> str | None:
    """The literal as the screen searches it (lower-cased), or None when it cannot: too short
    to search cheaply, or a character that may lower-case differently in DuckDB."""
    text = literal.replace("''", "'")
    if text.isascii():
        return text.lower() if len(text) >= MIN_LENGTH else None
    if len(text.encode()) < MIN_LENGTH or not all(map(same_lower, text)):
        return None
    return text.lower()


def literal(m: re.Match[str]) -> str | None:
    """The screenable literal of an ``ATOM`` match (None: not screenable)."""
    return _screenable(m.group(1) if m.group(1) is not None else m.group(2))


def atom_strings(sql: str) -> list[str]:
    """The screenable literals of ``sql``'s string tests."""
    return [got for m in ATOM.finditer(sql) if (got := literal(m)) is not None]
