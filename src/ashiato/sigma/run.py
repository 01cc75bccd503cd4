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

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from ashiato.detect.common import fmt_ts, short_list
from ashiato.detect.spec import Finding
from ashiato.sigma.compile import LEVEL_SCORES, CompiledRule, CompiledRuleSet, Correlation
from ashiato.sigma.correlate import CorrelationMatch, correlate
from ashiato.sigma.fields import flat_column, flatten
from ashiato.sigma.keywords import FULLTEXT
from ashiato.sigma.prefilter import CODE_COLUMN, codes_sql

VERSION = "sigma-1"
MAX_EVIDENCE = 2000
MAX_FINDINGS_PER_RULE = 100
"""Actors with a finding of their own per rule and run (those with the most events); the rule's
other matches fold into one more finding that counts them (``None``: no cap). A rule that fires
for tens of thousands of actors is one alarm about a broad rule, not tens of thousands."""
MEMORY_LIMIT = "512MB"
"""DuckDB's memory limit while Sigma rules run (the temp tables spill past it): measured at
200k events and 1,000 rules, 512MB costs ~5% of the time of 2GB and halves the peak RSS."""
BATCH = 1000
"""Rules per flattened table: bounds the size of one SQL statement and of the table's columns."""
HITS = "_sigma_hits"
FLAT = "_sigma_flat"
GRP = "_sigma_groups"
EVID = "_sigma_evidence"
SEQ = "_sigma_seq"
_ENTITY_COLS = '"user", src_host, dst_host, log_host, src_ip, dst_ip'
_HIT_COLS = f"event_id, ts, {_ENTITY_COLS}"
_NARROW = 'rowid AS fid, event_id, ts, "user", src_host, log_host'


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.sql(sql).arrow().read_all().to_pylist()
    return rows


def flatten_events(con: Any, rules: Sequence[CompiledRule], table: str) -> None:
    """Temp table FLAT: the rows of the rules' event codes, with every ``raw`` key they read
    (as written and lower-cased, as needed) extracted once into a plain VARCHAR column."""
    keys = dict.fromkeys(k for r in rules for k in r.keys)
    if any(r.codes is None for r in rules):
        where = ""
    else:
        where = codes_sql(frozenset().union(*(r.codes or () for r in rules)))
    raw = ", raw" if any(FULLTEXT in r.sql for r in rules) else ""
    cols = "".join(f", {flat_column(k)}" for k in sorted(keys))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {FLAT} AS SELECT event_id, ts, {CODE_COLUMN}, "
        f"{_ENTITY_COLS}{raw}{cols} FROM {flatten(table, keys, where)}"
    )


def hits_sql(rules: Sequence[CompiledRule], start: int = 0, cols: str = _HIT_COLS) -> str:
    """(r, ``cols``) per match over FLAT: one branch per event code, each evaluating only the
    rules of its code over plain columns. ``cols`` are FLAT's columns (``rowid`` included)."""

    def tag(i: int, r: CompiledRule) -> str:
        return f"CASE WHEN COALESCE(({r.sql}), false) THEN {start + i} END"

    by_code: dict[int, list[str]] = {}
    anywhere: list[str] = []
    for i, r in enumerate(rules):
        if r.codes is None:
            anywhere.append(tag(i, r))
        for code in sorted(r.codes or ()):
            by_code.setdefault(code, []).append(tag(i, r))
    branches = [(f" WHERE {CODE_COLUMN} = {code}", t) for code, t in sorted(by_code.items())]
    if anywhere:
        branches.append(("", anywhere))
    if not branches:
        return f"SELECT NULL::INTEGER AS r, {cols} FROM {FLAT} WHERE false"
    return " UNION ALL ".join(
        f"SELECT unnest(list_filter([{', '.join(t)}], lambda x: x IS NOT NULL)) AS r, "
        f"{cols} FROM {FLAT}{where}"
        for where, t in branches
    )


def rule_hits(con: Any, rules: Sequence[CompiledRule], table: str = "events") -> None:
    """Fill temp table HITS with (rule index, event id, ts, entity columns) (tests, debugging:
    ``run_rules`` aggregates the matches in the engine instead)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {HITS} (r INTEGER, event_id VARCHAR, "
        'ts TIMESTAMPTZ, "user" VARCHAR, src_host VARCHAR, dst_host VARCHAR, '
        "log_host VARCHAR, src_ip VARCHAR, dst_ip VARCHAR)"
    )
    for start in range(0, len(rules), BATCH):
        batch = rules[start : start + BATCH]
        flatten_events(con, batch, table)
        con.execute(f"INSERT INTO {HITS} SELECT * FROM ({hits_sql(batch, start, _HIT_COLS)})")
        con.execute(f"DROP TABLE IF EXISTS {FLAT}")


def group_hits(
    con: Any, rules: Sequence[CompiledRule], max_evidence: int, per_rule: int | None
) -> Any:
    """The matches of ``rules`` over FLAT grouped per rule and actor, as a DuckDB relation of
    (r, user, actor_host, n, first, last, ids, src, dst, log, sip, dip, others) ordered by rule
    and time: ``ids`` the evidence event ids in time order, the others the distinct entities of
    those events.

    No aggregate holds a list per group. The matches are materialised narrow: rule, FLAT row,
    the row's rank in (ts, event_id) order, ts and actor. They are grouped with fixed-size
    states only (count, first, last, first row) and the actors ranked per rule: ``per_rule``
    kept, the others folded (their sums, and the earliest ``max_evidence`` of them, whose first
    events are the folded row's evidence). Only then are the first ``max_evidence`` events of
    each kept group picked, and the evidence rows' ids and entities read from FLAT. Leaves
    temp tables behind (``drop_temps``)."""
    cap = max(1, max_evidence)
    keep = per_rule if per_rule is not None else 2**62
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {SEQ} AS SELECT rowid AS fid, "
        f"row_number() OVER (ORDER BY ts, event_id) AS seq FROM {FLAT}"
    )
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE {HITS} AS SELECT h.r, h.fid, s.seq, h.ts, h."user", '
        f"coalesce(h.src_host, h.log_host) AS actor_host FROM ({hits_sql(rules, 0, _NARROW)}) h "
        f"JOIN {SEQ} s USING (fid)"
    )
    folded = f"k > {keep}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {GRP} AS SELECT row_number() OVER () AS gid, * FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY r, {folded} ORDER BY fs) AS fr, "
        f"sum(n) OVER w AS fn, min(first) OVER w AS ff, max(last) OVER w AS fl, "
        f'count(*) OVER w AS fc FROM (SELECT r, "user", actor_host, count(*) AS n, '
        f"min(ts) AS first, max(ts) AS last, min(seq) AS fs, arg_min(fid, seq) AS ffid, "
        f'row_number() OVER (PARTITION BY r ORDER BY count(*) DESC, min(ts), "user", '
        f'actor_host) AS k FROM {HITS} GROUP BY r, "user", actor_host) '
        f"WINDOW w AS (PARTITION BY r, {folded}) QUALIFY k <= {keep} OR fr <= {cap})"
    )
    same = (
        'h.r = g.r AND h."user" IS NOT DISTINCT FROM g."user" '
        "AND h.actor_host IS NOT DISTINCT FROM g.actor_host"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {EVID} AS "
        f"SELECT g.gid, h.fid, h.seq FROM {HITS} h JOIN {GRP} g ON {same} "
        f"WHERE g.k <= {keep} AND g.n > 1 "
        f"QUALIFY row_number() OVER (PARTITION BY g.gid ORDER BY h.seq) <= {cap} "
        f"UNION ALL SELECT gid, ffid, fs FROM {GRP} WHERE k > {keep} OR n = 1"
    )
    con.execute(f"DROP TABLE IF EXISTS {HITS}")
    con.execute(f"DROP TABLE IF EXISTS {SEQ}")
    ev = (
        "list(f.event_id ORDER BY e.seq) AS ids, list(DISTINCT f.src_host) AS src, "
        "list(DISTINCT f.dst_host) AS dst, list(DISTINCT f.log_host) AS log, "
        "list(DISTINCT f.src_ip) AS sip, list(DISTINCT f.dst_ip) AS dip"
    )
    joined = f"{GRP} g JOIN {EVID} e USING (gid) JOIN {FLAT} f ON f.rowid = e.fid"
    return con.sql(
        f'SELECT g.r, g."user", g.actor_host, g.n, g.first, g.last, {ev}, 0 AS others '
        f'FROM {joined} WHERE g.k <= {keep} GROUP BY g.gid, g.r, g."user", g.actor_host, '
        f"g.n, g.first, g.last UNION ALL SELECT g.r, NULL, NULL, CAST(g.fn AS BIGINT), g.ff, "
        f"g.fl, {ev}, g.fc FROM {joined} WHERE g.k > {keep} GROUP BY g.r, g.fn, g.ff, g.fl, "
        f"g.fc ORDER BY r, first"
    )


def drop_temps(con: Any) -> None:
    for name in (FLAT, SEQ, HITS, GRP, EVID):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def iter_findings(
    con: Any,
    compiled: CompiledRuleSet,
    *,
    table: str = "events",
    max_evidence: int = MAX_EVIDENCE,
    max_findings_per_rule: int | None = MAX_FINDINGS_PER_RULE,
    memory_limit: str | None = MEMORY_LIMIT,
) -> Iterator[Finding]:
    """Findings of every compiled rule and correlation over ``table``, streamed per batch.

    Memory stays bounded: a batch's events are flattened into a temp table (DuckDB spills it
    under its memory limit), matches are grouped per rule and actor in the engine with
    fixed-size states and evidence fetched for the kept groups only (``group_hits``), and the
    grouped rows are read one Arrow batch at a time. ``memory_limit`` (DuckDB's, for the pass;
    ``None``: the connection's) is set for the iteration and restored after: the temp tables
    spill to the connection's ``temp_directory``. Do not use ``con`` while iterating.
    """
    old = None
    if memory_limit is not None:
        old = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute(f"SET memory_limit = '{memory_limit}'")
    try:
        yield from _iter_findings(con, compiled, table, max_evidence, max_findings_per_rule)
    finally:
        if old is not None:
            con.execute(f"SET memory_limit = '{old}'")


def _iter_findings(
    con: Any,
    compiled: CompiledRuleSet,
    table: str,
    max_evidence: int,
    max_findings_per_rule: int | None,
) -> Iterator[Finding]:
    # Rules that only feed correlations are evaluated by the correlations themselves.
    rules = [r for r in compiled.rules if r.generate]
    for start in range(0, len(rules), BATCH):
        batch = rules[start : start + BATCH]
        try:
            flatten_events(con, batch, table)
            grouped = group_hits(con, batch, max_evidence, max_findings_per_rule)
            for part in grouped.arrow():
                for g in part.to_pylist():
                    yield _rule_finding(batch[g["r"]], g)
                del part
        finally:
            drop_temps(con)
    cache: dict[int, list[CorrelationMatch]] = {}
    for corr in compiled.correlations:  # inner correlations come before those using them
        matches = cache.get(id(corr))
        if matches is None:
            matches = cache[id(corr)] = correlate(con, corr, table, cache)
        if corr.generate:
            for m in matches:
                yield _correlation_finding(con, corr, m, table, max_evidence)


def run_rules(
    con: Any,
    compiled: CompiledRuleSet,
    *,
    table: str = "events",
    max_evidence: int = MAX_EVIDENCE,
    max_findings_per_rule: int | None = MAX_FINDINGS_PER_RULE,
    memory_limit: str | None = MEMORY_LIMIT,
) -> list[Finding]:
    """Findings of every compiled rule and correlation over ``table`` (a DuckDB connection)."""
    return list(
        iter_findings(
            con,
            compiled,
            table=table,
            max_evidence=max_evidence,
            max_findings_per_rule=max_findings_per_rule,
            memory_limit=memory_limit,
        )
    )


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
    others = int(g["others"])
    accounts = _clean([g["user"]])
    src = _clean(g["src"])
    log = _clean(g["log"])
    actors = accounts + src if (accounts or src) else log
    hosts = _clean([*src, *g["dst"], *log])
    n = int(g["n"])
    who = f" by {short_list(list(actors))}" if actors else ""
    key = f"{g['user']}|{g['actor_host']}"
    if others:
        # The actors past the per-rule cap, folded: no actors (a sample would glue incidents).
        actors = ()
        who = f" by {others} more actor(s) (source hosts include {short_list(list(src), 3)})"
        key = "*others*"
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
        key=key,
        actors=actors,
        details={"rule": meta.key, "file": meta.path, "fields": list(rule.fields)}
        | ({"folded_actors": others} if others else {}),
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
