"""The Sigma step of ``ashiato detect``: obtain the compiled rules, keep those the store can
match, run them, and say what was run.

``run.py`` evaluates a compiled rule set; this module decides which set: the rule files given
(through the compiled-rule cache), without the rules whose event codes no stored event has.
"""

from __future__ import annotations

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
    from ashiato.sigma.cache import load_compiled

    compiled = load_compiled(paths, cache_dir=cache_dir, use_cache=use_cache)
    rs = compiled.ruleset
    assert rs is not None
    total = len(compiled.rules) + len(compiled.correlations)
    if select is not None:
        compiled = select(compiled)
    notices = [f"sigma: {p}" for p in rs.problems if p.level == "error"]
    notices += [
        f"sigma: {s.path}" + (f" [{s.rule_id}]" if s.rule_id else "") + f": skipped: {s.reason}"
        for s in compiled.skipped
    ]
    table = relation(events)
    absent = 0
    stats: dict[str, Any] = {}
    if run:
        running = prefilter_rules(compiled, present_codes(con, table)) if prefilter else compiled
        absent = len(compiled.rules) - len(running.rules)
        found = run_rules(con, running, table=table, stats=stats)
    else:
        found = []
    if isinstance(select, RuleSelector) and select.stats.skipped:
        notices.append(_skipped_summary(select.stats.skipped))
    status = (
        (
            f"selected {len(compiled.rules) + len(compiled.correlations):,} of {total:,}; "
            if select is not None
            else ""
        )
        + f"ran: {len(compiled.rules) - absent} rule(s), {len(compiled.correlations)} "
        f"correlation(s), {len(compiled.skipped)} skipped"
        + (f", {absent} not run (no event of their event ids in the store)" if absent else "")
        + (
            f", {stats['screened_out']} set aside (no event contains the strings they need)"
            if stats.get("screened_out")
            else ""
        )
    )
    if rs.cache_hits or rs.cache_misses:
        status += (
            f"; compiled-rule cache: {rs.cache_hits} file(s) reused, {rs.cache_misses} compiled"
        )
    return found, notices, status


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
