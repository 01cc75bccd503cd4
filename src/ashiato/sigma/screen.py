"""Set aside, before any SQL, the rules no event of the collection can match.

A community rule set has thousands of rules and a triage collection matches few of them; on a
small collection, planning each rule's SQL costs far more than evaluating it. Each rule carries
the strings its events' text must contain (``literals.rule_needs``: clauses, one string of each
to be present). One pass over the events' lower-cased text with an Aho-Corasick automaton
(pyahocorasick: a C implementation made for many patterns at once) finds which of all the
rules' strings occur among the rows of each event code; a rule with a clause none of whose
strings occurs in the rows of its codes cannot match and is not evaluated. The others are, by
their own SQL: the screen only ever removes rules that could not match (a string found in
another row than its clause-mates keeps a rule in).

Over a large store the same strings occur again and again: once a string is found for a code it
is dropped from that code's automaton (rebuilt after a doubling number of rows), so later rows
only pay for the strings still unseen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ahocorasick
import pyarrow.compute as pc

from ashiato.sigma.compile import CompiledRule
from ashiato.sigma.fields import FULLTEXT_SQL, flat_column
from ashiato.sigma.literals import ATOM, literal
from ashiato.sigma.prefilter import CODE_COLUMN
from ashiato.sigma.sqltext import conjuncts

SLICE_ROWS = 8192
"""Rows searched in one call (joined into one text)."""
_OTHER = "other codes"
REBUILD_ROWS = 65536
"""Rows of a code searched before its automaton is first rebuilt without the strings found;
the interval then doubles (a small collection never pays for a rebuild)."""


@dataclass
class _Code:
    """The search state of one event code: strings still unseen, found, and the automaton."""

    unseen: set[str]
    found: set[str] = field(default_factory=set)
    automaton: Any = None
    rows: int = 0  # searched since the automaton was built
    stale: bool = False  # the automaton holds found strings
    budget: int = REBUILD_ROWS

    def search(self, texts: Sequence[str]) -> None:
        if not self.unseen:
            return
        if self.automaton is None:
            self.automaton = _automaton(self.unseen)
        hits = {word for _, word in self.automaton.iter("\x1e".join(texts))}
        self.stale = self.stale or bool(hits - self.found)
        self.found |= hits
        self.unseen -= hits
        self.rows += len(texts)
        if self.rows >= self.budget and self.stale:
            self.automaton, self.rows, self.stale = None, 0, False
            self.budget *= 2


def _automaton(words: Iterable[str]) -> Any:
    a = ahocorasick.Automaton()
    for w in words:
        a.add_word(w, w)
    a.make_automaton()
    return a


def possible(
    con: Any, rules: Sequence[CompiledRule], table: str, where: str = ""
) -> list[CompiledRule]:
    """The rules of ``rules`` that some row of ``table`` (restricted by ``where``, SQL over its
    columns) may match, specialised to those rows (``specialize``): those each of whose
    clauses has a string in the text of a row of one of their event codes (any row, for a
    rule of any code)."""
    words = [{w for c in r.needs for w in c} | set(r.strings) for r in rules]
    anywhere = {w for r, ws in zip(rules, words, strict=True) if r.codes is None for w in ws}
    by_code: dict[Any, set[str]] = {}
    for r, ws in zip(rules, words, strict=True):
        for code in r.codes or ():
            by_code.setdefault(code, set(anywhere)).update(ws)
    if not anywhere and not by_code:
        return list(rules)
    states: dict[Any, _Code] = {}
    sql = (
        f'SELECT "{CODE_COLUMN}" AS code, lower({FULLTEXT_SQL}) AS text FROM {table}'
        f"{' WHERE ' + where if where else ''}"
    )
    for batch in con.sql(sql).arrow():
        codes, text = batch.column(0), batch.column(1)
        has_text = pc.and_(pc.is_valid(text), pc.not_equal(text, ""))
        for code in pc.unique(codes).to_pylist():  # a batch's rows, one code at a time
            rows = pc.is_null(codes) if code is None else pc.equal(codes, code)
            texts = text.filter(pc.and_(rows, has_text)).to_pylist()
            # Codes no rule pins share one state: only rules of any code read them.
            key = code if code in by_code else _OTHER
            state = states.get(key)
            if state is None:
                state = states[key] = _Code(set(by_code.get(key, anywhere)))
            for at in range(0, len(texts), SLICE_ROWS):
                state.search(texts[at : at + SLICE_ROWS])
    everywhere = set().union(*(s.found for s in states.values()))
    keep = []
    for r in rules:
        if r.codes is None:
            seen = everywhere
        else:
            seen = set().union(*(states[c].found for c in r.codes if c in states))
        if not all(any(w in seen for w in clause) for clause in r.needs):
            continue
        got = specialize(r, seen)
        if got is not None:
            keep.append(got)
    return keep


_OR_FALSE = re.compile(r" OR false(?=\)| OR |$)")
_FALSE_OR = re.compile(r"(?:(?<=\()|^)false OR ")
_PAREN_FALSE = re.compile(r"(?<![\w\"])\(false\)")


def specialize(rule: CompiledRule, seen: set[str]) -> CompiledRule | None:
    """``rule`` with every string test whose literal no row of its codes contains (a string
    not in ``seen``) replaced by ``false`` and the ORs of it dropped; None when a top-level
    conjunct became false (the rule cannot match). Exact on the rows of the rule's codes, the
    only ones where it can be true (its SQL tests them); NULL and false differ nowhere that
    counts, since the backend coalesces every operand of NOT. SigmaHQ's 4,432-hash driver list
    becomes the few hashes the collection holds: planning and evaluating it almost free.

    Only ORs whose both sides are known are dropped (`` OR false`` before a closing
    parenthesis, another OR or the end; ``false OR `` after an opening one or the start): in
    ``x AND false OR y`` the false belongs to the AND."""

    if all(w in seen for w in rule.strings):
        return rule

    def atom(m: re.Match[str]) -> str:
        got = literal(m)
        return "false" if got is not None and got not in seen else m.group(0)

    sql = ATOM.sub(atom, rule.sql)
    if sql == rule.sql:
        return rule
    while True:
        before = sql
        sql = _PAREN_FALSE.sub("false", _FALSE_OR.sub("", _OR_FALSE.sub("", sql)))
        if sql == before:
            break
    if any(c.strip() in ("false", "(false)") for c in conjuncts(sql)):
        return None
    keys = tuple(k for k in rule.keys if flat_column(k) in sql)
    return replace(rule, sql=sql, keys=keys)
