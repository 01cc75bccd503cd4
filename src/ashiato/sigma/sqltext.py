"""Splitting the backend's SQL conditions at their top level, outside parentheses, string
literals and quoted identifiers (the backend writes ``AND``/``OR`` with single spaces)."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKENS = {
    word: re.compile(rf"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[()]| {word} """) for word in ("AND", "OR")
}


def _split(sql: str, word: str) -> list[str]:
    """The operands of ``word`` (AND, OR) at the top level of ``sql``: outside parentheses,
    string literals and quoted identifiers."""
    out: list[str] = []
    depth = start = 0
    for m in _TOKENS[word].finditer(sql):
        tok = m.group()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok == f" {word} ":
            out.append(sql[start : m.start()])
            start = m.end()
    out.append(sql[start:])
    return out


@lru_cache(maxsize=8192)
def conjuncts(sql: str) -> tuple[str, ...]:
    """``sql`` as the list of its top-level AND operands (itself when an OR is on top).
    Cached: every run splits the same rules' conditions twice (``screen``, ``group_chunk``)."""
    if len(_split(sql, "OR")) > 1:
        return (sql,)
    return tuple(_split(sql, "AND"))
