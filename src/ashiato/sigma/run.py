"""Run compiled Sigma rules over the event store and turn their matches into findings.

Sigma matches join the same queue as the behavioural detectors: one ``Finding`` per rule and
actor (account and source host, or the recording host for endpoint events that name no source),
one per correlation match. Plain rules are evaluated in batches, each batch one scan of the
events that tags every row with the rules it matches; the small hits table is then grouped.

Reading the ``raw`` map dominates a scan, so a scan reads only the rows whose ``event_code`` one
of its rules can match (``prefilter``: DuckDB pushes that filter into the Parquet reader), and a
``CASE event_code`` hands each row only to the rules of its code: a rule's map lookups run on its
own events, not on every event. Rules that name no event code see every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ashiato.detect.common import fmt_ts, short_list
from ashiato.detect.spec import Finding
from ashiato.sigma.compile import LEVEL_SCORES, CompiledRule, CompiledRuleSet, Correlation
from ashiato.sigma.correlate import CorrelationMatch, correlate
from ashiato.sigma.prefilter import CODE_COLUMN, codes_sql

VERSION = "sigma-1"
MAX_EVIDENCE = 2000
BATCH = 500
"""Rules per scan: bounds the size of one SQL statement. Each scan decodes the ``raw`` column of
the rows it reads (the fixed cost of a scan), so batches are large; a row's hit list is bounded
by the rules of its event code."""
HITS = "_sigma_hits"
_ENTITY_COLS = '"user", src_host, dst_host, log_host, src_ip, dst_ip'


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.sql(sql).arrow().read_all().to_pylist()
    return rows


def rule_hits(con: Any, rules: Sequence[CompiledRule], table: str = "events") -> None:
    """Fill temp table HITS with (rule index, event id, ts, entity columns), one scan per batch."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {HITS} (r INTEGER, event_id VARCHAR, "
        'ts TIMESTAMPTZ, "user" VARCHAR, src_host VARCHAR, dst_host VARCHAR, '
        "log_host VARCHAR, src_ip VARCHAR, dst_ip VARCHAR)"
    )
    for start in range(0, len(rules), BATCH):
        tags, where = _batch_tags(rules[start : start + BATCH], start)
        con.execute(
            f"INSERT INTO {HITS} SELECT r, event_id, ts, {_ENTITY_COLS} FROM (SELECT "
            f"unnest(list_filter({tags}, lambda x: x IS NOT NULL)) AS r, event_id, ts, "
            f"{_ENTITY_COLS} FROM {table}{where})"
        )


def _batch_tags(batch: Sequence[CompiledRule], start: int) -> tuple[str, str]:
    """A list expression of the matching rules' indexes per row, and the scan's WHERE clause."""

    def tag(i: int, r: CompiledRule) -> str:
        return f"CASE WHEN COALESCE(({r.sql}), false) THEN {start + i} END"

    by_code: dict[int, list[str]] = {}
    anywhere: list[str] = []
    for i, r in enumerate(batch):
        if r.codes is None:
            anywhere.append(tag(i, r))
        for code in sorted(r.codes or ()):
            by_code.setdefault(code, []).append(tag(i, r))
    parts = []
    if by_code:
        whens = " ".join(
            f"WHEN {code} THEN [{', '.join(t)}]" for code, t in sorted(by_code.items())
        )
        parts.append(f"COALESCE(CASE {CODE_COLUMN} {whens} END, [])")
    if anywhere:
        parts.append(f"[{', '.join(anywhere)}]")
    if not parts:
        return "[]::INTEGER[]", " WHERE false"
    tags = parts[0] if len(parts) == 1 else f"list_concat({', '.join(parts)})"
    where = "" if anywhere else f" WHERE {codes_sql(tuple(by_code))}"
    return tags, where


def run_rules(
    con: Any, compiled: CompiledRuleSet, *, table: str = "events", max_evidence: int = MAX_EVIDENCE
) -> list[Finding]:
    """Findings of every compiled rule and correlation over ``table`` (a DuckDB connection)."""
    findings: list[Finding] = []
    # Rules that only feed correlations are evaluated by the correlations themselves.
    rules = [r for r in compiled.rules if r.generate]
    if rules:
        rule_hits(con, rules, table)
        groups = _rows(
            con,
            f'SELECT r, "user", coalesce(src_host, log_host) AS actor_host, count(*) AS n, '
            f"min(ts) AS first, max(ts) AS last, "
            f"list(event_id ORDER BY ts, event_id)[1:{max_evidence}] AS ids, "
            f"list(DISTINCT src_host) AS src, list(DISTINCT dst_host) AS dst, "
            f"list(DISTINCT log_host) AS log, list(DISTINCT src_ip) AS sip, "
            f"list(DISTINCT dst_ip) AS dip FROM {HITS} GROUP BY ALL ORDER BY r, first",
        )
        findings.extend(_rule_finding(rules[g["r"]], g) for g in groups)
        con.execute(f"DROP TABLE IF EXISTS {HITS}")
    cache: dict[int, list[CorrelationMatch]] = {}
    for corr in compiled.correlations:  # inner correlations come before those using them
        matches = cache.get(id(corr))
        if matches is None:
            matches = cache[id(corr)] = correlate(con, corr, table, cache)
        if corr.generate:
            findings.extend(
                _correlation_finding(con, corr, m, table, max_evidence) for m in matches
            )
    return findings


def _clean(values: Any) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in values or [] if v not in (None, "", "-")}))


def _score(level: str) -> float:
    return float(LEVEL_SCORES.get(level, 50))


def _span(first: datetime, last: datetime) -> str:
    if first == last:
        return f"at {fmt_ts(first)}"
    return f"from {fmt_ts(first)} to {fmt_ts(last)}"


def _rule_finding(rule: CompiledRule, g: dict[str, Any]) -> Finding:
    meta = rule.meta
    accounts = _clean([g["user"]])
    src = _clean(g["src"])
    actors = accounts + src if (accounts or src) else _clean(g["log"])
    hosts = _clean([*g["src"], *g["dst"], *g["log"]])
    n = int(g["n"])
    who = f" by {short_list(list(actors))}" if actors else ""
    fields = f" Fields tested: {short_list(list(rule.fields), 6)}." if rule.fields else ""
    desc = f" {meta.description}" if meta.description else ""
    reason = (
        f"Sigma rule '{meta.title}' ({meta.level}) matched {n} event(s){who} "
        f"{_span(g['first'], g['last'])}.{desc}{fields}"
    )
    return Finding(
        detector=meta.detector,
        detector_version=VERSION,
        title=meta.title,
        severity=meta.level,
        score=_score(meta.level),
        techniques=meta.techniques,
        first_seen=g["first"],
        last_seen=g["last"],
        accounts=accounts,
        hosts=hosts,
        sites=(),
        ips=_clean([*g["sip"], *g["dip"]]),
        reason=reason,
        evidence=tuple(g["ids"]),
        evidence_count=n,
        key=f"{g['user']}|{g['actor_host']}",
        actors=actors,
        details={"rule": meta.key, "file": meta.path, "fields": list(rule.fields)},
    )


def _correlation_finding(
    con: Any, corr: Correlation, m: CorrelationMatch, table: str, cap: int
) -> Finding:
    meta = corr.meta
    ids = list(m.event_ids)
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    ent = _rows(
        con,
        f'SELECT list(DISTINCT "user") AS u, list(DISTINCT src_host) AS src, '
        f"list(DISTINCT dst_host) AS dst, list(DISTINCT log_host) AS log, "
        f"list(DISTINCT src_ip) AS sip, list(DISTINCT dst_ip) AS dip FROM {table} "
        f"WHERE event_id IN ({quoted})",
    )[0]
    accounts = _clean(ent["u"])
    src = _clean(ent["src"])
    actors = accounts + src if (accounts or src) else _clean(ent["log"])
    group = ", ".join(f"{k}={v}" for k, v in m.group)
    names = short_list([r.meta.title for r in corr.rules], 3)
    what = {
        "event_count": f"{len(ids)} events",
        "value_count": f"{m.metric} distinct {corr.value_field} value(s) over {len(ids)} events",
        "temporal": f"all of {names}",
        "temporal_ordered": f"{names} in that order",
    }[corr.kind]
    bounds = " and ".join(f"{op} {n}" for op, n in corr.bounds)
    desc = f" {meta.description}" if meta.description else ""
    reason = (
        f"Sigma correlation '{meta.title}' ({corr.kind}, {bounds} within {corr.timespan_s} s"
        f"{', per ' + group if group else ''}): {what} {_span(m.first_seen, m.last_seen)}.{desc}"
    )
    return Finding(
        detector=meta.detector,
        detector_version=VERSION,
        title=meta.title,
        severity=meta.level,
        score=_score(meta.level),
        techniques=meta.techniques,
        first_seen=m.first_seen,
        last_seen=m.last_seen,
        accounts=accounts,
        hosts=_clean([*ent["src"], *ent["dst"], *ent["log"]]),
        sites=(),
        ips=_clean([*ent["sip"], *ent["dip"]]),
        reason=reason,
        evidence=tuple(ids[:cap]),
        evidence_count=len(ids),
        key=f"{group}|{m.first_seen.isoformat()}",
        actors=actors,
        details={
            "rule": meta.key,
            "file": meta.path,
            "kind": corr.kind,
            "group": dict(m.group),
            "metric": m.metric,
        },
    )


def relation(events: Any) -> str:
    """An Ibis events table as a FROM item for our SQL (it may be a view minus ``day``)."""
    import ibis

    return f"({ibis.to_sql(events, dialect='duckdb')}) AS ev"


def run_rule_paths(
    con: Any, events: Any, paths: Sequence[Any], *, run: bool = True
) -> tuple[list[Finding], list[str], str]:
    """For the detect runner: load, compile and run the rules under ``paths``.

    Returns the findings, one notice per rule problem or skipped rule, and a status line.
    """
    from ashiato.sigma.compile import compile_rules
    from ashiato.sigma.load import load_rules

    compiled = compile_rules(load_rules(paths))
    assert compiled.ruleset is not None
    notices = [f"sigma: {p}" for p in compiled.ruleset.problems if p.level == "error"]
    notices += [
        f"sigma: {s.path}" + (f" [{s.rule_id}]" if s.rule_id else "") + f": skipped: {s.reason}"
        for s in compiled.skipped
    ]
    found = run_rules(con, compiled, table=relation(events)) if run else []
    status = (
        f"ran: {len(compiled.rules)} rule(s), {len(compiled.correlations)} correlation(s), "
        f"{len(compiled.skipped)} skipped"
    )
    return found, notices, status
