"""The Sigma step of ``ashiato detect``: obtain the compiled rules, keep those the store can
match, run them, and say what was run.

``run.py`` evaluates a compiled rule set; this module decides which set: the rule files given
(through the compiled-rule cache), without the rules whose event codes no stored event has.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ashiato.detect.spec import Finding
from ashiato.sigma.compile import CompiledRuleSet, Skipped
from ashiato.sigma.prefilter import CODE_COLUMN
from ashiato.sigma.run import run_rules
from ashiato.sigma.select import RuleSelector


def relation(events: Any) -> str:
    """An Ibis events table as a FROM item for our SQL (it may be a view minus ``day``)."""
    import ibis

    return f"({ibis.to_sql(events, dialect='duckdb')}) AS ev"


def present_codes(con: Any, table: str) -> frozenset[int]:
    """The distinct event codes of ``table`` (one narrow scan; DuckDB reads one column)."""
    rows = con.sql(f"SELECT DISTINCT {CODE_COLUMN} FROM {table}").fetchall()
    return frozenset(int(r[0]) for r in rows if r[0] is not None)


def prefilter_rules(compiled: CompiledRuleSet, codes: frozenset[int]) -> CompiledRuleSet:
    """``compiled`` without the rules that cannot match an event of ``codes``: those whose
    conditions pin event codes (``CompiledRule.codes``, a necessary condition) none of which is
    present. Rules that pin none (keyword rules, rules on any event of a channel) stay, and
    correlations keep their own references to their base rules, so they are unaffected."""
    kept = [r for r in compiled.rules if r.codes is None or r.codes & codes]
    return CompiledRuleSet(
        rules=kept,
        correlations=compiled.correlations,
        skipped=compiled.skipped,
        ruleset=compiled.ruleset,
    )


def run_rule_paths(
    con: Any,
    events: Any,
    paths: Sequence[Any],
    *,
    run: bool = True,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    prefilter: bool = True,
    select: Callable[[CompiledRuleSet], CompiledRuleSet] | None = None,
) -> tuple[list[Finding], list[str], str]:
    """For the detect runner: load, compile (or take from the cache) and run the rules under
    ``paths``, without the rules no event of the store can match (``prefilter_rules``).
    ``select`` narrows the compiled set first (e.g. by level or status).

    Returns the findings, one notice per rule problem or skipped rule, and a status line.
    """
    plan = RulePlan.load(paths, use_cache=use_cache, cache_dir=cache_dir, select=select)
    found = plan.judge(con, relation(events), prefilter=prefilter) if run else []
    return found, plan.notices, plan.status()


class RulePlan:
    """A compiled, selected rule set, loaded once and run over one table or many (one per
    day, ``ashiato.detect.fold.run_day_step``), with what it says about itself."""

    def __init__(
        self,
        compiled: CompiledRuleSet,
        total: int,
        select: Callable[[CompiledRuleSet], CompiledRuleSet] | None,
    ) -> None:
        self.compiled, self.total, self.select = compiled, total, select
        rs = compiled.ruleset
        assert rs is not None
        self.notices = [f"sigma: {p}" for p in rs.problems if p.level == "error"]
        self.notices += [
            f"sigma: {s.path}" + (f" [{s.rule_id}]" if s.rule_id else "") + f": skipped: {s.reason}"
            for s in compiled.skipped
        ]
        if isinstance(select, RuleSelector) and select.stats.skipped:
            self.notices.append(_skipped_summary(select.stats.skipped))
        self.absent = 0
        self.screened_out = 0

    @classmethod
    def load(
        cls,
        paths: Sequence[Any],
        *,
        use_cache: bool = True,
        cache_dir: Path | None = None,
        select: Callable[[CompiledRuleSet], CompiledRuleSet] | None = None,
    ) -> RulePlan:
        from ashiato.sigma.cache import load_compiled

        compiled = load_compiled(paths, cache_dir=cache_dir, use_cache=use_cache)
        total = len(compiled.rules) + len(compiled.correlations)
        return cls(select(compiled) if select is not None else compiled, total, select)

    def fingerprint(self) -> str:
        """What the rules' findings depend on: each rule's condition and each correlation's
        plan, and the engine's source (a changed engine judges every day again)."""
        h = hashlib.sha256()
        for r in sorted(self.compiled.rules, key=lambda r: (r.meta.detector, r.sql)):
            h.update(f"{r.meta.detector}|{r.meta.level}|{r.generate}|{r.sql}\0".encode())
        for c in sorted(self.compiled.correlations, key=lambda c: c.meta.detector):
            plan = (c.meta.detector, c.kind, c.group_sql, c.value_sql, c.timespan_s, c.bounds)
            h.update(repr((plan, [r.meta.key for r in c.rules])).encode() + b"\0")
        for p in sorted(Path(__file__).parent.glob("*.py")):
            h.update(p.read_bytes())
        return h.hexdigest()[:24]

    def judge(self, con: Any, table: str, *, prefilter: bool = True) -> list[Finding]:
        """The findings of the rules over ``table`` (a FROM item), counting what was not run."""
        compiled = self.compiled
        stats: dict[str, Any] = {}
        running = prefilter_rules(compiled, present_codes(con, table)) if prefilter else compiled
        self.absent = len(compiled.rules) - len(running.rules)
        found = run_rules(con, running, table=table, stats=stats)
        self.screened_out = int(stats.get("screened_out") or 0)
        return found

    def status(self) -> str:
        compiled, rs = self.compiled, self.compiled.ruleset
        assert rs is not None
        status = (
            (
                f"selected {len(compiled.rules) + len(compiled.correlations):,} of {self.total:,}; "
                if self.select is not None
                else ""
            )
            + f"ran: {len(compiled.rules) - self.absent} rule(s), {len(compiled.correlations)} "
            f"correlation(s), {len(compiled.skipped)} skipped"
            + (
                f", {self.absent} not run (no event of their event ids in the store)"
                if self.absent
                else ""
            )
            + (
                f", {self.screened_out} set aside (no event contains the strings they need)"
                if self.screened_out
                else ""
            )
        )
        if rs.cache_hits or rs.cache_misses:
            status += (
                f"; compiled-rule cache: {rs.cache_hits} file(s) reused, {rs.cache_misses} compiled"
            )
        return status


def _skipped_summary(skipped: Sequence[Skipped]) -> str:
    """One notice for the default set's rules that cannot run (``rules check`` lists them)."""
    kinds = Counter(
        s.reason.split("'", maxsplit=1)[0].split(":", maxsplit=1)[0].strip() for s in skipped
    )
    top = "; ".join(f"{n} {why}" for why, n in kinds.most_common(4))
    more = f"; {len(kinds) - 4} other reason(s)" if len(kinds) > 4 else ""
    return (
        f"sigma: {len(skipped)} rule(s) of the default rule set cannot run on these logs "
        f"({top}{more}); `ashiato rules check` lists them"
    )
