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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from ashiato.sigma.compile import CompiledRule
from ashiato.sigma.fields import FULLTEXT_SQL
from ashiato.sigma.prefilter import CODE_COLUMN

SLICE_ROWS = 8192
"""Rows searched in one call (joined into one text)."""
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
    columns) may match: those without needs, and those each of whose clauses has a string in
    the text of a row of one of their event codes (any row, for a rule of any code)."""
    screened = [r for r in rules if r.needs]
    if not screened:
        return list(rules)
    anywhere = {w for r in screened if r.codes is None for c in r.needs for w in c}
    by_code: dict[int, set[str]] = {}
    for r in screened:
        for code in r.codes or ():
            by_code.setdefault(code, set(anywhere)).update(w for c in r.needs for w in c)
    states: dict[Any, _Code] = {}
    sql = (
        f'SELECT "{CODE_COLUMN}" AS code, lower({FULLTEXT_SQL}) AS text FROM {table}'
        f"{' WHERE ' + where if where else ''}"
    )
    for batch in con.sql(sql).arrow():
        groups: dict[Any, list[str]] = {}
        for code, text in zip(
            batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
        ):
            if text:
                groups.setdefault(code, []).append(text)
        for code, texts in groups.items():
            state = states.get(code)
            if state is None:
                state = states[code] = _Code(set(by_code.get(code, anywhere)))
            for at in range(0, len(texts), SLICE_ROWS):
                state.search(texts[at : at + SLICE_ROWS])
    everywhere = set().union(*(s.found for s in states.values()))
    keep = []
    for r in rules:
        if r.needs:
            if r.codes is None:
                seen = everywhere
            else:
                seen = set().union(*(states[c].found for c in r.codes if c in states))
            if not all(any(w in seen for w in clause) for clause in r.needs):
                continue
        keep.append(r)
    return keep
