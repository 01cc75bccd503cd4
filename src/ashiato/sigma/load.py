"""Load Sigma rules from files and directories into one collection, reporting every problem.

Analysts bring rule sets that contain mistakes; one bad file must not stop the others, and no
rule may vanish without a word. So nothing here raises for bad rules: each problem becomes a
``Problem`` that names the file and the rule id, and ``ashiato rules check`` prints them.
pySigma does the parsing (single rules, multi-document files, ``action: global`` collections,
correlation rules, filters) with ``collect_errors`` on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule, SigmaRuleBase
from sigma.validation import SigmaValidator
from sigma.validators.core.condition import DanglingDetectionValidator
from sigma.validators.core.metadata import (
    IdentifierExistenceValidator,
    IdentifierUniquenessValidator,
)
from sigma.validators.core.modifiers import InvalidModifierCombinationsValidator

RULE_SUFFIXES = (".yml", ".yaml")
CONDITION_RANGE = "ashiato_condition_range"
"""Custom attribute holding a correlation condition with several bounds (``gte`` and ``lte``):
pySigma accepts exactly one, so the loader keeps the first for pySigma and the whole range here."""

_VALIDATORS = (
    DanglingDetectionValidator,
    IdentifierExistenceValidator,
    IdentifierUniquenessValidator,
    InvalidModifierCombinationsValidator,
)
"""pySigma validators cheap enough to run on every load (no ATT&CK data tables)."""


@dataclass(frozen=True)
class Problem:
    """Something wrong with a rule file or rule; ``level`` error means the rule is not used."""

    path: str
    rule_id: str | None
    message: str
    level: str = "error"  # "error" (rule dropped) | "warning" (rule kept)
    title: str | None = None

    def __str__(self) -> str:
        where = self.path + (f" [{self.rule_id}]" if self.rule_id else "")
        return f"{where}: {self.level}: {self.message}"


@dataclass
class RuleSet:
    """The usable rules (pySigma objects, references resolved) and every problem found."""

    collection: SigmaCollection
    paths: dict[int, str] = field(default_factory=dict)  # id(rule) -> file
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    cached_rules: int = 0  # rules not in ``collection``: compiled ones came from the cache
    cache_hits: int = 0  # files
    cache_misses: int = 0
    seconds: float | None = None  # load and compile, when ``cache.load_compiled`` measured it

    @property
    def rules(self) -> list[SigmaRule | SigmaCorrelationRule]:
        return list(self.collection.rules)

    @property
    def n_rules(self) -> int:
        """Rules loaded, counting those whose compiled form came from the cache."""
        return len(self.collection.rules) + self.cached_rules

    def path_of(self, rule: SigmaRuleBase) -> str:
        return self.paths.get(id(rule), "?")


def rule_key(rule: SigmaRuleBase) -> str | None:
    """How problems and findings name a rule: its id, else its name, else its title."""
    if rule.id is not None:
        return str(rule.id)
    return rule.name or rule.title or None


def rule_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Files named directly, and ``*.yml``/``*.yaml`` under directories, in a stable order."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.suffix in RULE_SUFFIXES and f.is_file())
        else:
            yield p


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load every rule under ``paths``; problems are collected in ``RuleSet.problems``."""
    problems: list[Problem] = []
    collections: list[SigmaCollection] = []
    paths_by_rule: dict[int, str] = {}
    n_files = 0
    for path in rule_files([Path(p) for p in paths]):
        n_files += 1
        loaded = _load_file(path, problems)
        if loaded is None:
            continue
        for rule in loaded.rules:
            paths_by_rule[id(rule)] = str(path)
        collections.append(loaded)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    _resolve(merged, paths_by_rule, problems)
    _validate(merged, paths_by_rule, problems)
    return RuleSet(collection=merged, paths=paths_by_rule, problems=problems, files=n_files)


def _load_file(path: Path, problems: list[Problem]) -> SigmaCollection | None:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(where, None, f"cannot read: {exc}"))
        return None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        problems.append(Problem(where, None, f"bad YAML: {exc}".replace("\n", " ")))
        return None
    bad = [i for i, d in enumerate(docs) if not isinstance(d, dict)]
    for i in bad:
        problems.append(Problem(where, None, f"document {i + 1} is not a mapping"))
    docs = [_split_condition_range(d) for d in docs if isinstance(d, dict)]
    try:
        col = SigmaCollection.from_dicts(
            docs, collect_errors=True, source=SigmaRuleLocation(path), resolve_references=False
        )
    except (SigmaError, ValueError, TypeError, KeyError) as exc:
        problems.append(Problem(where, None, f"not a Sigma rule file: {exc}"))
        return None
    kept = []
    seen: set[str] = set()
    for rule in col.rules:
        if rule.errors:
            for err in rule.errors:
                seen.add(_message(err))
                problems.append(Problem(where, rule_key(rule), _message(err), title=rule.title))
        else:
            kept.append(rule)
    # pySigma also lists rule errors on the collection: report those once, with the rule id.
    for err in col.errors:
        if _message(err) not in seen:
            problems.append(Problem(where, None, _message(err)))
    col.rules = kept
    return col


def _split_condition_range(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep one bound of a multi-bound correlation condition for pySigma, all in a custom key."""
    corr = doc.get("correlation")
    cond = corr.get("condition") if isinstance(corr, dict) else None
    if not isinstance(cond, dict):
        return doc
    ops = [k for k in cond if k in ("gt", "gte", "lt", "lte", "eq", "neq")]
    if len(ops) < 2:
        return doc
    first = {k: v for k, v in cond.items() if k not in ops[1:]}
    return {
        **doc,
        CONDITION_RANGE: {k: cond[k] for k in ops},
        "correlation": {**(corr or {}), "condition": first},
    }


def _resolve(col: SigmaCollection, paths: dict[int, str], problems: list[Problem]) -> None:
    """Resolve correlation references one rule at a time: a dangling one drops only its rule."""
    kept: list[SigmaRule | SigmaCorrelationRule] = []
    for rule in col.rules:
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(col)
            except SigmaError as exc:
                problems.append(
                    Problem(
                        paths.get(id(rule), "?"), rule_key(rule), _message(exc), title=rule.title
                    )
                )
                continue
        kept.append(rule)
    col.rules = kept
    col.resolve_rule_references()


def _validate(col: SigmaCollection, paths: dict[int, str], problems: list[Problem]) -> None:
    validator = SigmaValidator(_VALIDATORS)
    for rule in col.rules:
        if isinstance(rule, SigmaRule):
            for issue in validator.validate_rule(rule):
                problems.append(_issue(issue, rule, paths))
    for issue in validator.finalize():
        if not issue.rules:
            problems.append(Problem("?", None, issue.description, level="warning"))
        for rule in issue.rules[:1]:
            problems.append(_issue(issue, rule, paths))


def _issue(issue: Any, rule: SigmaRuleBase, paths: dict[int, str]) -> Problem:
    return Problem(
        paths.get(id(rule), "?"),
        rule_key(rule),
        f"{issue.description} ({type(issue).__name__})",
        level="warning",
        title=rule.title,
    )


def _message(err: BaseException) -> str:
    """pySigma's message without its location suffix (the Problem names file and rule)."""
    text = err.args[0] if err.args else str(err)
    return str(text).split("\n")[0]
