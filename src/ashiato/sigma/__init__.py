"""Sigma rules on the event store: load, compile through pySigma to DuckDB SQL, run, explain.

``load_rules`` -> ``compile_rules`` -> ``run_rules``; ``detect(..., rules=[...])`` does all three
alongside the behavioural detectors, and ``ashiato rules check`` prints what compiles.
"""

from ashiato.sigma.compile import (
    CompiledRule,
    CompiledRuleSet,
    Correlation,
    Skipped,
    compile_rules,
)
from ashiato.sigma.correlate import CorrelationMatch, correlate
from ashiato.sigma.load import Problem, RuleSet, load_rules
from ashiato.sigma.run import run_rules

__all__ = [
    "CompiledRule",
    "CompiledRuleSet",
    "Correlation",
    "CorrelationMatch",
    "Problem",
    "RuleSet",
    "Skipped",
    "compile_rules",
    "correlate",
    "load_rules",
    "run_rules",
]
