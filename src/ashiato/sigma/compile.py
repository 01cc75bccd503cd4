"""Compile a loaded rule set into SQL for the event store, and say why any rule was skipped.

Each detection rule becomes one DuckDB boolean expression over ACCESS_EVENT with its ``raw``
keys flattened into columns (see ``backend`` and ``fields.flatten``);
each correlation rule becomes a ``Correlation`` plan over its base rules' matches (see
``correlate``). A rule that cannot run here (a logsource the store does not hold, a field no
Windows event has, a modifier without an equivalent) is listed in ``skipped`` with the reason:
``ashiato rules check`` prints that coverage, and the detect run reports it as notices.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule, SigmaRuleBase
from sigma.types import SigmaFieldReference

from ashiato.sigma.backend import DuckDBBackend
from ashiato.sigma.fields import (
    canonical_field,
    field_problem,
    flatten,
    logsource_problem,
    sql_field,
)
from ashiato.sigma.literals import Needs, atom_strings, rule_needs
from ashiato.sigma.load import CONDITION_RANGE, RuleSet, rule_key
from ashiato.sigma.pipeline import store_pipeline
from ashiato.sigma.prefilter import codes_sql, rule_codes

LEVEL_SCORES = {"informational": 10, "low": 30, "medium": 50, "high": 70, "critical": 90}
SUPPORTED_CORRELATIONS = (
    SigmaCorrelationType.EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL,
    SigmaCorrelationType.TEMPORAL_ORDERED,
)
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$", re.IGNORECASE)


@dataclass(frozen=True)
class RuleMeta:
    """What a finding says about the rule that made it."""

    key: str  # id, else name, else title
    detector: str  # "sigma:<id>" or "sigma:<title-slug>"
    title: str
    level: str
    description: str
    techniques: tuple[str, ...]
    path: str
    status: str | None = None  # stable, test, experimental, deprecated, unsupported
    tags: tuple[str, ...] = ()  # every tag as written, e.g. "attack.t1003.001"
    product: str | None = None  # logsource product (correlations: None)


@dataclass(frozen=True)
class CompiledRule:
    meta: RuleMeta
    sql: str  # boolean expression over ``fields.flatten(events, keys)``
    category: str | None  # logsource category (field spellings differ by category)
    fields: tuple[str, ...]  # Sigma fields the condition reads, for reasons
    generate: bool  # False: only feeds correlations (Sigma ``generate: false`` semantics)
    seconds: float  # compile time
    codes: frozenset[int] | None = None  # event codes it can match (None: any), a prefilter
    keys: tuple[str, ...] = ()  # ``raw`` keys ``sql`` reads as flattened columns
    service: str | None = None  # logsource service (Defender's field spellings differ too)
    needs: Needs = ()  # strings its events' text must contain (``literals``), a prefilter
    strings: tuple[str, ...] = ()  # the literals of its SQL's string tests (``literals``)

    def source(self, table: str) -> str:
        """A FROM item over which ``sql`` evaluates: ``table`` with this rule's keys extracted,
        restricted to the rule's event codes."""
        return flatten(table, self.keys, "" if self.codes is None else codes_sql(self.codes))


@dataclass(frozen=True)
class Correlation:
    """A correlation plan. A referenced rule may itself be a correlation (Sigma v2 chaining):
    its matches then act as the events of this one (see ``correlate``); for such a reference,
    ``group_sql`` and ``value_sql`` hold names of the inner correlation's ``group_by`` instead
    of SQL."""

    meta: RuleMeta
    kind: str  # event_count | value_count | temporal | temporal_ordered
    rules: tuple[CompiledRule | Correlation, ...]  # in the rule's order (temporal_ordered)
    group_by: tuple[str, ...]  # names as written (aliases or fields)
    group_sql: tuple[tuple[str, ...], ...]  # per referenced rule, SQL of each group-by field
    value_sql: tuple[str | None, ...]  # value_count: per referenced rule, the counted field
    value_field: str | None
    timespan_s: int
    bounds: tuple[tuple[str, int], ...]  # (op, count): all must hold
    generate: bool = True  # False: only feeds an outer correlation


@dataclass(frozen=True)
class Skipped:
    path: str
    rule_id: str | None
    title: str
    reason: str


@dataclass
class CompiledRuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ruleset: RuleSet | None = None

    @property
    def loaded(self) -> int:
        return len(self.rules) + len(self.correlations) + len(self.skipped)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


def techniques(tags: Iterable[Any]) -> tuple[str, ...]:
    """``attack.t1021.002`` -> ``T1021.002``; tactics and other namespaces are not techniques."""
    out = []
    for tag in tags:
        if str(getattr(tag, "namespace", "")).lower() == "attack" and _TECHNIQUE.match(tag.name):
            out.append(tag.name.upper())
    return tuple(dict.fromkeys(out))


def rule_meta(rule: SigmaRuleBase, path: str) -> RuleMeta:
    key = rule_key(rule) or "untitled"
    level = rule.level.name.lower() if rule.level else "medium"
    return RuleMeta(
        key=key,
        detector="sigma:" + (str(rule.id) if rule.id else slug(rule.title or key)),
        title=rule.title or key,
        level=level if level in LEVEL_SCORES else "medium",
        description=(rule.description or "").strip(),
        techniques=techniques(rule.tags or []),
        path=path,
        status=rule.status.name.lower() if rule.status else None,
        tags=tuple(str(t) for t in rule.tags or []),
        product=rule.logsource.product if isinstance(rule, SigmaRule) else None,
    )


def compile_rules(ruleset: RuleSet) -> CompiledRuleSet:
    """Compile every usable rule of ``ruleset``; correlations after the rules they use."""
    out = CompiledRuleSet(ruleset=ruleset)
    backend = DuckDBBackend(store_pipeline())
    by_obj: dict[int, CompiledRule] = {}
    referenced = {
        id(ref.rule)
        for r in ruleset.rules
        if isinstance(r, SigmaCorrelationRule)
        for ref in r.rules or []
    }
    for rule in ruleset.rules:
        if isinstance(rule, SigmaRule):
            got = _compile_rule(backend, rule, ruleset.path_of(rule), out, id(rule) in referenced)
            if got is not None:
                by_obj[id(rule)] = got
                out.rules.append(got)
    done: dict[int, Correlation | None] = {}
    for rule in ruleset.rules:
        if isinstance(rule, SigmaCorrelationRule):
            _compile_chain(rule, ruleset, by_obj, done, out, ())
    return out


def _compile_chain(
    rule: SigmaCorrelationRule,
    ruleset: RuleSet,
    by_obj: dict[int, CompiledRule],
    done: dict[int, Correlation | None],
    out: CompiledRuleSet,
    stack: tuple[int, ...],
) -> Correlation | None:
    """Compile ``rule`` after the correlations it references (inner ones come first in
    ``out.correlations``); each correlation is compiled, or skipped, once."""
    if id(rule) in done:
        return done[id(rule)]
    path = ruleset.path_of(rule)
    inner: dict[int, Correlation] = {}
    for ref in rule.rules or []:
        sub = ref.rule
        if not isinstance(sub, SigmaCorrelationRule):
            continue
        if id(sub) in stack or sub is rule:
            _skip(out, rule, path, f"uses correlation {ref.reference!r}, which uses it back")
            done[id(rule)] = None
            return None
        got = _compile_chain(sub, ruleset, by_obj, done, out, (*stack, id(rule)))
        if got is not None:
            inner[id(sub)] = got
    corr = _compile_correlation(rule, path, {**by_obj, **inner}, out)
    done[id(rule)] = corr
    if corr is not None:
        out.correlations.append(corr)
    return corr


def _skip(out: CompiledRuleSet, rule: SigmaRuleBase, path: str, reason: str) -> None:
    out.skipped.append(Skipped(path, rule_key(rule), rule.title or "", reason))


def detection_fields(rule: SigmaRule) -> list[str]:
    """Every field name a rule's detections use (field references included), in order."""
    names: list[str] = []

    def visit(item: SigmaDetection | SigmaDetectionItem) -> None:
        if isinstance(item, SigmaDetection):
            for sub in item.detection_items:
                visit(sub)
            return
        if item.field:
            names.append(item.field)
        for v in item.value:
            if isinstance(v, SigmaFieldReference):
                names.append(v.field)

    for det in rule.detection.detections.values():
        visit(det)
    return list(dict.fromkeys(names))


def _compile_rule(
    backend: DuckDBBackend, rule: SigmaRule, path: str, out: CompiledRuleSet, referenced: bool
) -> CompiledRule | None:
    t0 = time.perf_counter()
    reason = logsource_problem(rule.logsource)
    fields = detection_fields(rule)
    reason = reason or next((p for p in map(field_problem, fields) if p), None)
    if reason:
        _skip(out, rule, path, reason)
        return None
    # The pipeline rewrites rules in place: work on a copy (sharing the correlations that
    # reference it), with output on: a base rule's SQL is needed even when it makes no findings.
    work = copy.deepcopy(rule, {id(b): b for b in rule._backreferences})
    work._output = True
    backend.keys.clear()
    try:
        queries = backend.convert_rule(work)
    except (SigmaError, NotImplementedError, TypeError, ValueError) as exc:
        _skip(out, rule, path, f"cannot compile: {exc.args[0] if exc.args else exc!s}")
        return None
    if len(queries) != 1:
        _skip(out, rule, path, f"compiled to {len(queries)} queries; expected one condition")
        return None
    generate = not referenced or rule._output
    return CompiledRule(
        meta=rule_meta(rule, path),
        sql=str(queries[0]),
        category=rule.logsource.category,
        fields=tuple(fields),
        generate=generate,
        seconds=time.perf_counter() - t0,
        codes=rule_codes(work),
        keys=tuple(backend.keys),
        service=rule.logsource.service,
        needs=rule_needs(work),
        strings=tuple(dict.fromkeys(atom_strings(str(queries[0])))),
    )


_OPS = {
    SigmaCorrelationConditionOperator.GT: "gt",
    SigmaCorrelationConditionOperator.GTE: "gte",
    SigmaCorrelationConditionOperator.LT: "lt",
    SigmaCorrelationConditionOperator.LTE: "lte",
    SigmaCorrelationConditionOperator.EQ: "eq",
    SigmaCorrelationConditionOperator.NEQ: "neq",
}


def _compile_correlation(
    rule: SigmaCorrelationRule,
    path: str,
    by_obj: dict[int, CompiledRule | Correlation],
    out: CompiledRuleSet,
) -> Correlation | None:
    if rule.type not in SUPPORTED_CORRELATIONS:
        _skip(out, rule, path, f"correlation type {rule.type.name.lower()} is not supported")
        return None
    if not isinstance(rule.condition, SigmaCorrelationCondition):
        _skip(out, rule, path, "extended (boolean) correlation conditions are not supported")
        return None
    bases: list[CompiledRule | Correlation] = []
    for ref in rule.rules or []:
        base = by_obj.get(id(ref.rule))
        if base is None:
            _skip(out, rule, path, f"uses rule {ref.reference!r}, but it was skipped")
            return None
        bases.append(base)
    aliases = {a.alias: a for a in rule.aliases}
    group_by = tuple(rule.group_by or ())
    group_sql = []
    for ref, base in zip(rule.rules or [], bases, strict=True):
        row = []
        for name in group_by:
            alias = aliases.get(name)
            real = _alias_field(alias, ref) if alias else name
            if isinstance(base, Correlation):
                carried = _carried(base, real)
                if carried is None:
                    _skip(out, rule, path, _not_carried(ref, base, real))
                    return None
                row.append(carried)
                continue
            problem = field_problem(real)
            if problem:
                _skip(out, rule, path, f"group-by: {problem}")
                return None
            row.append(sql_field(real, base.category, base.service))
        group_sql.append(tuple(row))
    value_field = None
    values: list[str | None] = [None] * len(bases)
    if rule.type == SigmaCorrelationType.VALUE_COUNT:
        fieldref = rule.condition.fieldref
        value_field = fieldref if isinstance(fieldref, str) else None
        if value_field is None or field_problem(value_field):
            _skip(out, rule, path, "value_count needs one valid condition field")
            return None
        values = []
        for ref, b in zip(rule.rules or [], bases, strict=True):
            if isinstance(b, CompiledRule):
                values.append(sql_field(value_field, b.category, b.service))
                continue
            carried = _carried(b, value_field)
            if carried is None:
                _skip(out, rule, path, _not_carried(ref, b, value_field))
                return None
            values.append(carried)
    raw_range = rule.custom_attributes.get(CONDITION_RANGE)
    if isinstance(raw_range, dict):
        bounds = tuple((str(k), int(v)) for k, v in raw_range.items())
    else:
        bounds = ((_OPS[rule.condition.op], int(rule.condition.count)),)
    return Correlation(
        meta=rule_meta(rule, path),
        kind=rule.type.name.lower(),
        rules=tuple(bases),
        group_by=group_by,
        group_sql=tuple(group_sql),
        value_sql=tuple(values),
        value_field=value_field,
        timespan_s=int(rule.timespan.seconds),
        bounds=bounds,
        generate=rule._output,
    )


def _carried(inner: Correlation, name: str) -> str | None:
    """The group-by name of ``inner`` that carries field ``name`` (matches know only those)."""
    for g in inner.group_by:
        if g == name or canonical_field(g) == canonical_field(name):
            return g
    return None


def _not_carried(ref: Any, inner: Correlation, name: str) -> str:
    return (
        f"field {name!r} is not a group-by field of correlation {ref.reference!r} "
        f"(its matches carry only {', '.join(inner.group_by) or 'no fields'})"
    )


def _alias_field(alias: Any, ref: Any) -> str:
    for r, name in alias.mapping.items():
        if r.reference == ref.reference:
            return str(name)
    return str(alias.alias)
