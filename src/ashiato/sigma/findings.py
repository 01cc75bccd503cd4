"""Sigma matches as findings: a rule's grouped matches (``run.group_chunk``'s rows) or a
correlation's match become one ``Finding`` each, with the entities of their events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from ashiato.detect.common import fmt_ts, short_list
from ashiato.detect.spec import Finding
from ashiato.sigma.compile import LEVEL_SCORES, CompiledRule, Correlation
from ashiato.sigma.correlate import CorrelationMatch

VERSION = "sigma-1"
MATCH_IDS = "_sigma_match_ids"


def rule_findings(rules: Sequence[CompiledRule], part: Any) -> Iterator[Finding]:
    """The findings of one Arrow batch of ``group_chunk``'s rows (read column by column)."""
    cols = {name: _pylist(part.column(name)) for name in part.schema.names}
    for i in range(part.num_rows):
        yield rule_finding(rules[cols["r"][i]], {k: v[i] for k, v in cols.items()})


def _pylist(column: Any) -> list[Any]:
    """An Arrow column as Python values; UTC timestamps through integers (several times
    faster than pyarrow's own conversion, same values)."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz == "UTC" and kind.unit == "us":
        epoch = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))
        return [
            None if us is None else epoch + timedelta(microseconds=us)
            for us in column.cast(pa.int64()).to_pylist()
        ]
    values: list[Any] = column.to_pylist()
    return values


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.sql(sql).arrow().read_all().to_pylist()
    return rows


def _clean(values: Any) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in values or [] if v not in (None, "", "-")}))


def _score(level: str) -> float:
    return float(LEVEL_SCORES.get(level, 50))


def _span(first: datetime, last: datetime) -> str:
    if first == last:
        return f"at {fmt_ts(first)}"
    return f"from {fmt_ts(first)} to {fmt_ts(last)}"


def rule_finding(rule: CompiledRule, g: dict[str, Any]) -> Finding:
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


def match_entities(
    con: Any, matches: Sequence[CorrelationMatch], table: str
) -> list[dict[str, Any]]:
    """The distinct entities of each match's events (one scan of ``table`` for them all)."""
    pairs = pa.table(
        {
            "m": pa.array([i for i, m in enumerate(matches) for _ in m.event_ids], pa.int64()),
            "event_id": pa.array([e for m in matches for e in m.event_ids], pa.string()),
        }
    )
    con.register(MATCH_IDS, pairs)
    try:
        rows = _rows(
            con,
            f'SELECT p.m, list(DISTINCT e."user") AS u, list(DISTINCT e.src_host) AS src, '
            f"list(DISTINCT e.dst_host) AS dst, list(DISTINCT e.log_host) AS log, "
            f"list(DISTINCT e.src_ip) AS sip, list(DISTINCT e.dst_ip) AS dip "
            f"FROM (SELECT DISTINCT m, event_id FROM {MATCH_IDS}) p "
            f"JOIN {table} e ON e.event_id = p.event_id GROUP BY p.m",
        )
    finally:
        con.unregister(MATCH_IDS)
    empty: dict[str, Any] = {k: [] for k in ("u", "src", "dst", "log", "sip", "dip")}
    got = {r["m"]: r for r in rows}
    return [got.get(i, empty) for i in range(len(matches))]


def correlation_finding(
    corr: Correlation, m: CorrelationMatch, ent: dict[str, Any], cap: int
) -> Finding:
    meta = corr.meta
    ids = list(m.event_ids)
    accounts = _clean(ent["u"])
    src = _clean(ent["src"])
    actors = accounts + src if (accounts or src) else _clean(ent["log"])
    group = ", ".join(f"{k}={v}" for k, v in m.group)
    names = short_list([r.meta.title for r in corr.rules], 3)
    what = {
        "event_count": f"{m.count} events",
        "value_count": f"{m.metric} distinct {corr.value_field} value(s) over {m.count} events",
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
        evidence_count=m.count,
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
