"""Choose which compiled Sigma rules run: by level, status, ATT&CK (or other) tags and logsource.

A ``Selection`` is the criteria; ``RuleSelector(selection, scope)`` is the callable that
``ashiato.detect.runner.detect(..., rule_select=...)`` and ``sigma.step.run_rule_paths(select=...)``
take: it narrows a ``CompiledRuleSet`` and counts what it kept, for the detect output.

- **level**: a minimum (``informational`` < ``low`` < ``medium`` < ``high`` < ``critical``); a
  rule without a level counts as ``medium``, as its findings' score does.
- **status**: the statuses kept (a rule without one has status ``none``), or those dropped.
- **tags**: any of them, each matching the tag itself or a tag under it (``attack.t1003`` keeps
  ``attack.t1003`` and ``attack.t1003.001``, not ``attack.t10030``); case is ignored.
- **product/service**: the logsource's; a correlation passes if each rule it uses directly does.

A kept correlation keeps working whatever the selection says of the rules it uses: it evaluates
its base rules through its own references, and a base rule that only feeds correlations
(``generate: false``) stays in the set. A base rule that was not selected makes no findings of
its own.

``scope`` limits the selection to some rule files (the default rule set): rules outside it run
unselected and are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ashiato.errors import AshiatoError
from ashiato.sigma.compile import CompiledRule, CompiledRuleSet, Correlation, RuleMeta, Skipped

LEVELS = ("informational", "low", "medium", "high", "critical")
STATUSES = ("stable", "test", "experimental", "deprecated", "unsupported", "none")


class SelectionError(AshiatoError):
    """A selection option names a level or status Sigma does not have."""


@dataclass(frozen=True)
class Selection:
    """Criteria; each unset one keeps every rule."""

    min_level: str | None = None
    statuses: frozenset[str] | None = None  # kept statuses (None: any)
    drop_statuses: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()  # any of (prefix at a dot)
    products: frozenset[str] | None = None
    services: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.min_level is not None and self.min_level not in LEVELS:
            raise SelectionError(f"unknown rule level {self.min_level!r}; one of {LEVELS}")
        for s in (*(self.statuses or ()), *self.drop_statuses):
            if s not in STATUSES:
                raise SelectionError(f"unknown rule status {s!r}; one of {STATUSES}")

    @classmethod
    def parse(
        cls,
        level: str | None = None,
        status: Iterable[str] = (),
        tags: Iterable[str] = (),
        product: Iterable[str] = (),
        service: Iterable[str] = (),
        base: Selection | None = None,
    ) -> Selection:
        """From command-line values (comma-separated lists allowed); unset criteria come from
        ``base`` (e.g. ``DEFAULT_SELECTION``)."""
        base = base or cls()
        statuses = _split(status)
        products, services = _split(product), _split(service)
        return cls(
            min_level=level.lower() if level else base.min_level,
            statuses=frozenset(statuses) if statuses else base.statuses,
            drop_statuses=frozenset() if statuses else base.drop_statuses,
            tags=tuple(_split(tags)) or base.tags,
            products=frozenset(products) if products else base.products,
            services=frozenset(services) if services else base.services,
        )

    def describe(self) -> str:
        parts = []
        if self.min_level:
            parts.append(f"level >= {self.min_level}")
        if self.statuses is not None:
            parts.append("status " + "/".join(sorted(self.statuses)))
        if self.drop_statuses:
            parts.append("status not " + "/".join(sorted(self.drop_statuses)))
        if self.tags:
            parts.append("tag " + " or ".join(self.tags))
        if self.products is not None:
            parts.append("product " + "/".join(sorted(self.products)))
        if self.services is not None:
            parts.append("service " + "/".join(sorted(self.services)))
        return ", ".join(parts) or "every rule"

    def keeps(self, meta: RuleMeta) -> bool:
        """Level, status and tags of one rule or correlation."""
        if self.min_level and LEVELS.index(_level(meta.level)) < LEVELS.index(self.min_level):
            return False
        status = (meta.status or "none").lower()
        if self.statuses is not None and status not in self.statuses:
            return False
        if status in self.drop_statuses:
            return False
        if self.tags:
            have = [t.lower() for t in meta.tags]
            if not any(t == p or t.startswith(p + ".") for p in self.tags for t in have):
                return False
        return True

    def keeps_source(self, product: str | None, service: str | None) -> bool:
        if self.products is not None and (product or "").lower() not in self.products:
            return False
        return self.services is None or (service or "").lower() in self.services


DEFAULT_SELECTION = Selection(
    min_level="low", drop_statuses=frozenset({"deprecated", "unsupported"})
)
"""What ``ashiato detect`` runs of the default rule set unless told otherwise: every rule that
may raise an alert (Sigma's ``informational`` level is for enrichment, not alerting) and that
SigmaHQ has not retired (``deprecated``, ``unsupported``)."""


@dataclass
class SelectionStats:
    """What one ``RuleSelector`` call kept, of the rules in its scope."""

    considered: int = 0  # rules and correlations in scope
    selected: int = 0  # of them kept by the criteria
    bases_kept: int = 0  # not selected, kept because a kept correlation uses them
    skipped: list[Skipped] = field(default_factory=list)  # in scope, could not compile


@dataclass
class RuleSelector:
    """The ``select`` callable: narrows a compiled rule set to ``selection`` within ``scope``
    (rule file paths; None: every rule). The rules that cannot run of the files ``summarize``
    accepts move out of the set's ``skipped`` (one notice each) into ``stats.skipped``, for one
    summary line (the default set's: a user's own rules are still named one by one)."""

    selection: Selection
    scope: Callable[[str], bool] | None = None
    summarize: Callable[[str], bool] | None = None
    stats: SelectionStats = field(default_factory=SelectionStats)

    def _in_scope(self, path: str) -> bool:
        return self.scope is None or self.scope(path)

    def __call__(self, compiled: CompiledRuleSet) -> CompiledRuleSet:
        sel = self.selection
        stats = self.stats = SelectionStats()
        corrs: list[Correlation] = []
        for c in compiled.correlations:
            if not self._in_scope(c.meta.path):
                corrs.append(c)
                continue
            stats.considered += 1
            if sel.keeps(c.meta) and all(
                sel.keeps_source(b.meta.product, b.service)
                for b in c.rules
                if isinstance(b, CompiledRule)
            ):
                stats.selected += 1
                corrs.append(c)
        bases = {id(b) for c in corrs for b in _base_rules(c)}
        rules: list[CompiledRule] = []
        for r in compiled.rules:
            if not self._in_scope(r.meta.path):
                rules.append(r)
                continue
            stats.considered += 1
            if sel.keeps(r.meta) and sel.keeps_source(r.meta.product, r.service):
                stats.selected += 1
                rules.append(r)
            elif id(r) in bases and not r.generate:
                stats.bases_kept += 1
                rules.append(r)
        skipped = compiled.skipped
        if self.summarize is not None:
            quiet = self.summarize
            stats.skipped = [s for s in skipped if quiet(s.path)]
            skipped = [s for s in skipped if not quiet(s.path)]
        return CompiledRuleSet(
            rules=rules, correlations=corrs, skipped=skipped, ruleset=compiled.ruleset
        )


def _base_rules(corr: Correlation) -> Iterable[CompiledRule]:
    for b in corr.rules:
        if isinstance(b, Correlation):
            yield from _base_rules(b)
        else:
            yield b


def _level(level: str) -> str:
    return level if level in LEVELS else "medium"


def _split(values: Iterable[str]) -> list[str]:
    return [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
