"""Coverage of a Sigma rule set: loaded, compiled, skipped and why (``ashiato rules check``);
with a store, also the fields each rule tests that no stored event carries (``dead``).

A plain dict (it is also the ``--json`` output) and its Rich rendering, so that the command
stays a thin client.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ashiato.quote.term import text
from ashiato.sigma.cache import load_compiled
from ashiato.sigma.compile import CompiledRuleSet
from ashiato.sigma.dead import dead_fields, store_keys
from ashiato.store import Store


def coverage(
    paths: Sequence[Path],
    store: Store | None = None,
    *,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    select: Callable[[CompiledRuleSet], CompiledRuleSet] | None = None,
) -> dict[str, Any]:
    """Load and compile ``paths``; every rule appears once: compiled, skipped or in error.
    ``select`` (a ``sigma.select.RuleSelector``) narrows the compiled rules first.

    With ``store``, each compiled rule also lists ``dead_fields``: the fields it tests that no
    event in the store carries (it cannot match there), and the summary counts such rules.
    Compiled rules come from the cache where it has them (``cache.load_compiled``).
    """
    t0 = time.perf_counter()
    compiled = load_compiled(paths, cache_dir=cache_dir, use_cache=use_cache)
    ruleset = compiled.ruleset
    assert ruleset is not None
    total = len(compiled.rules) + len(compiled.correlations)
    if select is not None:
        compiled = select(compiled)
        extra_sel: dict[str, Any] = {"selected": len(compiled.rules) + len(compiled.correlations)}
        extra_sel["selected_of"] = total
    else:
        extra_sel = {}
    dead = dead_fields(compiled.rules, store_keys(store)) if store is not None else {}
    seconds = time.perf_counter() - t0
    errors = [p for p in ruleset.problems if p.level == "error"]
    warnings = [p for p in ruleset.problems if p.level != "error"]
    compile_s = [r.seconds for r in compiled.rules]
    extra: dict[str, Any] = {}
    if store is not None:
        extra = {"store": str(store.root), "rules_with_dead_fields": len(dead)}
    return {
        "files": ruleset.files,
        "rules_loaded": ruleset.n_rules,
        "cache": {"files_cached": ruleset.cache_hits, "files_compiled": ruleset.cache_misses}
        if use_cache
        else None,
        "compiled": len(compiled.rules),
        **extra_sel,
        "correlations": len(compiled.correlations),
        "skipped": len(compiled.skipped),
        "errors": len(errors),
        "seconds": round(seconds, 3),
        "mean_compile_ms": round(1000 * sum(compile_s) / len(compile_s), 3) if compile_s else None,
        "skip_reasons": dict(Counter(_reason_kind(s.reason) for s in compiled.skipped)),
        **extra,
        "rules": [
            {
                "path": r.meta.path,
                "id": r.meta.key,
                "title": r.meta.title,
                "status": "compiled",
                **({"dead_fields": dead.get(r.meta.key, [])} if store is not None else {}),
            }
            for r in compiled.rules
        ]
        + [
            {"path": c.meta.path, "id": c.meta.key, "title": c.meta.title, "status": "compiled"}
            for c in compiled.correlations
        ]
        + [
            {
                "path": s.path,
                "id": s.rule_id,
                "title": s.title,
                "status": "skipped",
                "reason": s.reason,
            }
            for s in compiled.skipped
        ],
        "problems": [
            {"path": p.path, "id": p.rule_id, "level": p.level, "message": p.message}
            for p in [*errors, *warnings]
        ],
    }


def _reason_kind(reason: str) -> str:
    """Reasons grouped for the summary: the words before the first quote or colon."""
    return reason.split("'", maxsplit=1)[0].split(":", maxsplit=1)[0].strip()


def render_coverage(report: dict[str, Any]) -> Group:
    head = Text(
        f"{report['files']} file(s), {report['rules_loaded']} rule(s) loaded: "
        f"{report['compiled']} compiled, {report['correlations']} correlation(s), "
        f"{report['skipped']} skipped, {report['errors']} error(s)"
        f" in {report['seconds']:.2f} s"
    )
    cache = report.get("cache")
    if cache:
        head.append(
            f" (cache: {cache['files_cached']} file(s) reused, {cache['files_compiled']} compiled)"
        )
    t = Table(title="Skipped and problems")
    for c in ("file", "rule", "status", "why"):
        t.add_column(c, overflow="fold")
    for r in report["rules"]:
        if r["status"] == "skipped":
            t.add_row(text(r["path"]), text(r["id"]), "skipped", text(r["reason"]))
    for p in report["problems"]:
        style = "red" if p["level"] == "error" else "yellow"
        t.add_row(text(p["path"]), text(p["id"]), text(p["level"], style), text(p["message"]))
    parts: list[Any] = [head]
    if "rules_with_dead_fields" in report:
        parts.append(
            Text(
                f"{report['rules_with_dead_fields']} compiled rule(s) test fields that no event "
                f"in {report['store']} carries (they cannot match there)"
            )
        )
    if t.row_count:
        parts.append(t)
    dead = Table(title="Fields no event in the store carries")
    for c in ("file", "rule", "title", "fields"):
        dead.add_column(c, overflow="fold")
    for r in report["rules"]:
        if r.get("dead_fields"):
            dead.add_row(
                text(r["path"]), text(r["id"]), text(r["title"]), text(", ".join(r["dead_fields"]))
            )
    if dead.row_count:
        parts.append(dead)
    return Group(*parts)
