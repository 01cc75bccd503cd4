"""Sigma v2 correlations as SQL over the base rules' matches (event_count, value_count,
temporal, temporal_ordered), grouped by fields and bounded by a timespan.

Semantics, chosen to be explainable and the same on every run:

* the base rules' matching events are gathered once (one row per event and rule, with the
  group-by values lower-cased; an event missing a group-by field belongs to no group);
* counting kinds slide a window of ``timespan`` ending at each event (DuckDB ``RANGE`` frame):
  event_count counts events, value_count distinct values of the field, temporal distinct rules;
  a window whose number meets every bound of the condition is a hit;
* temporal_ordered chains, for each event of the last rule, the latest earlier event of each
  previous rule (ASOF joins, latest-first is optimal); a chain within ``timespan`` is a hit;
* overlapping hits of one group merge into one match, whose evidence is every base event of the
  group inside it (temporal_ordered: the chains' events). One match becomes one finding;
* a correlation may reference another (Sigma v2 chaining). The spec leaves the time of an inner
  match open; here an inner match is an event of the outer one *at every instant its condition
  held*, that is at the end of each window that met it (temporal_ordered: each chain's last
  event). The end, not the start: "ten failures, then a success" must see the tenth failure
  before the success, exactly as a streaming engine raises the inner alert at that moment; and
  every instant, not only the first or last, so that a success in the middle of a long burst
  still follows a burst. It counts once however many of its instants a window holds
  (event_count counts distinct events), carries the inner group-by values (the outer group-by
  must name them, checked at compile time), and stands for the inner match's evidence.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from ashiato.sigma.compile import CompiledRule, Correlation
from ashiato.sigma.fields import flat_field
from ashiato.sigma.prefilter import codes_sql

_SQL_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "neq": "<>"}
MATCHES = "_sigma_corr_matches"
EPISODES = "_sigma_corr_episodes"
INNER = "_sigma_corr_inner"
INNER_ID = "@sigma-match:"
"""Prefix of the stand-in event id of an inner correlation's match (never a stored id)."""


@dataclass(frozen=True)
class CorrelationMatch:
    group: tuple[tuple[str, str], ...]  # (group-by name, value) pairs
    first_seen: datetime
    last_seen: datetime
    event_ids: tuple[str, ...]  # base events, in time order, the first MATCH_IDS of them
    metric: int  # the largest count seen in one window (chain length for temporal_ordered)
    instants: tuple[datetime, ...] = ()  # window ends at which the condition held
    n_events: int = 0  # how many base events the match holds (0: as many as event_ids)

    @property
    def count(self) -> int:
        return self.n_events or len(self.event_ids)


MATCH_IDS = 2000
"""Event ids a match keeps (in time order; ``count`` says how many it holds). A failure burst
of a stale service credential on a 29,000-terminal estate is one episode of hundreds of
thousands of events, and every "burst, then success" chain built on it repeated them all:
the whole lists took 24 GiB."""


def _arrow(con: Any, sql: str) -> pa.Table:
    result: pa.Table = con.sql(sql).arrow().read_all()
    return result


def flat_keys(corr: Correlation) -> tuple[list[CompiledRule], list[str]]:
    """The base rules ``corr`` (and the correlations it uses) evaluates, and the flattened
    keys its group-by and value fields read: what a flattened relation must hold for
    ``correlate(..., flat=...)``."""
    rules: list[CompiledRule] = []
    keys: list[str] = []
    for k, base in enumerate(corr.rules):
        if isinstance(base, Correlation):
            sub_rules, sub_keys = flat_keys(base)
            rules += sub_rules
            keys += sub_keys
            continue
        rules.append(base)
        for sql in (*corr.group_sql[k], corr.value_sql[k] or ""):
            keys += flat_field(sql)[1]
    return rules, keys


def _gather(
    con: Any,
    corr: Correlation,
    table: str,
    inner: dict[int, list[CorrelationMatch]],
    flat: str | None = None,
) -> tuple[list[str], dict[str, CorrelationMatch]]:
    """Materialise the base matches; return the group column names and the stand-ins."""
    gcols = [f"g{i}" for i in range(len(corr.group_by))]
    parts = []
    stand_ins: dict[str, CorrelationMatch] = {}
    rows: list[dict[str, Any]] = []
    for k, base in enumerate(corr.rules):
        if isinstance(base, Correlation):
            for i, m in enumerate(inner[k]):
                sid = f"{INNER_ID}{k}:{i}"
                stand_ins[sid] = m
                carried = dict(m.group)
                vname = corr.value_sql[k]
                value = carried[vname] if vname else None
                gvals = {c: carried[name] for c, name in zip(gcols, corr.group_sql[k], strict=True)}
                rows += [
                    {"event_id": sid, "ts": t, "r": k, **gvals, "v": value} for t in m.instants
                ]
            continue
        gsqls = list(corr.group_sql[k])
        value = corr.value_sql[k]
        if flat is None:
            source = base.source(table)
        else:
            where = "" if base.codes is None else f" WHERE {codes_sql(base.codes)}"
            source = f"(SELECT * FROM {flat}{where})"
            gsqls = [flat_field(sql)[0] for sql in gsqls]
            value = flat_field(value)[0] if value else None
        groups = "".join(
            f", lower(CAST({sql} AS VARCHAR)) AS {c}" for sql, c in zip(gsqls, gcols, strict=True)
        )
        vsql = f"lower(CAST({value} AS VARCHAR))" if value else "NULL::VARCHAR"
        not_null = "".join(f" AND ({sql}) IS NOT NULL" for sql in gsqls)
        parts.append(
            f"SELECT event_id, ts, {k} AS r{groups}, {vsql} AS v FROM {source} "
            f"WHERE COALESCE(({base.sql}), false){not_null}"
        )
    if stand_ins:
        schema = pa.schema(
            [
                ("event_id", pa.string()),
                ("ts", pa.timestamp("us", tz="UTC")),
                ("r", pa.int32()),
                *[(c, pa.string()) for c in gcols],
                ("v", pa.string()),
            ]
        )
        con.register(INNER, pa.Table.from_pylist(rows, schema=schema))
        cols = ", ".join(["event_id", "ts", "r", *gcols, "v"])
        parts.append(f"SELECT {cols} FROM {INNER}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MATCHES} AS " + " UNION ALL ".join(parts))
    if stand_ins:
        con.unregister(INNER)
    return gcols, stand_ins


def correlate(
    con: Any,
    corr: Correlation,
    table: str = "events",
    cache: MutableMapping[int, list[CorrelationMatch]] | None = None,
    flat: str | None = None,
) -> list[CorrelationMatch]:
    """Run one correlation over ``table`` on a DuckDB connection; matches in time order.

    Correlations it references are run first (or taken from ``cache``, keyed by ``id()`` of
    the inner ``Correlation``, which this fills): pass one cache to run a chain only once.
    ``flat``: a flattened relation of the events (``run.flatten_events`` with ``flat_keys``)
    to read the base rules' matches from instead of ``table``'s ``raw`` map.
    """
    cache = {} if cache is None else cache
    inner: dict[int, list[CorrelationMatch]] = {}
    for k, base in enumerate(corr.rules):
        if isinstance(base, Correlation):
            if id(base) not in cache:
                cache[id(base)] = correlate(con, base, table, cache, flat)
            inner[k] = cache[id(base)]
    gcols, stand_ins = _gather(con, corr, table, inner, flat)
    if corr.kind == "temporal_ordered":
        episodes = _ordered_hits(con, corr, gcols)
    else:
        episodes = _window_hits(con, corr, gcols)
    con.execute(f"DROP TABLE IF EXISTS {MATCHES}")
    if stand_ins:
        episodes = [_expand(m, stand_ins) for m in episodes]
    return sorted(episodes, key=lambda m: (m.first_seen, m.group))


def _expand(m: CorrelationMatch, stand_ins: dict[str, CorrelationMatch]) -> CorrelationMatch:
    """Replace inner matches' stand-in ids by their evidence, and widen the time span to it."""
    ids: list[str] = []
    n = 0
    first, last = m.first_seen, m.last_seen
    for e in m.event_ids:
        sub = stand_ins.get(e)
        if sub is None:
            ids.append(e)
            n += 1
            continue
        ids += sub.event_ids
        n += sub.count
        first, last = min(first, sub.first_seen), max(last, sub.last_seen)
    kept = tuple(dict.fromkeys(ids))[:MATCH_IDS]
    return replace(m, event_ids=kept, n_events=max(n, len(kept)), first_seen=first, last_seen=last)


def _window_hits(con: Any, corr: Correlation, gcols: list[str]) -> list[CorrelationMatch]:
    metric = {
        "event_count": "COUNT(DISTINCT event_id)",
        "value_count": "COUNT(DISTINCT v)",
        "temporal": "COUNT(DISTINCT r)",
    }[corr.kind]
    part = f"PARTITION BY {', '.join(gcols)} " if gcols else ""
    frame = (
        f"({part}ORDER BY ts RANGE BETWEEN INTERVAL ({corr.timespan_s}) SECOND PRECEDING "
        "AND CURRENT ROW)"
    )
    test = " AND ".join(f"metric {_SQL_OPS[op]} {n}" for op, n in corr.bounds)
    gsel = "".join(f"{c}, " for c in gcols)
    hits = _arrow(
        con,
        f"SELECT {gsel}ts, max(metric) AS metric FROM (SELECT {gsel}ts, {metric} OVER {frame} "
        f"AS metric FROM {MATCHES}) WHERE {test} GROUP BY ALL ORDER BY {gsel}ts",
    ).to_pylist()
    span = timedelta(seconds=corr.timespan_s)
    episodes: list[dict[str, Any]] = []
    for h in hits:
        key = tuple(h[c] for c in gcols)
        last = episodes[-1] if episodes else None
        if last and last["key"] == key and h["ts"] - span <= last["end"]:
            last["end"] = h["ts"]
            last["metric"] = max(last["metric"], h["metric"])
            last["instants"].append(h["ts"])
        else:
            episodes.append(
                {
                    "key": key,
                    "start": h["ts"] - span,
                    "end": h["ts"],
                    "metric": h["metric"],
                    "instants": [h["ts"]],
                }
            )
    if not episodes:
        return []
    rows = [
        {"ep": i, **dict(zip(gcols, e["key"], strict=True)), "start": e["start"], "end": e["end"]}
        for i, e in enumerate(episodes)
    ]
    con.register(EPISODES, pa.Table.from_pylist(rows))
    on = "".join(f" AND m.{c} = e.{c}" for c in gcols)
    got = _arrow(
        con,
        f"SELECT e.ep, list(m.event_id ORDER BY m.ts, m.event_id)[1:{MATCH_IDS}] AS ids, "
        f"count(DISTINCT m.event_id) AS n, min(m.ts) AS first, "
        f"max(m.ts) AS last FROM {MATCHES} m JOIN {EPISODES} e ON m.ts BETWEEN e.start AND "
        f"e.end{on} GROUP BY e.ep",
    ).to_pylist()
    con.unregister(EPISODES)
    out = []
    for g in got:
        e = episodes[g["ep"]]
        out.append(
            CorrelationMatch(
                group=tuple(zip(corr.group_by, e["key"], strict=True)),
                first_seen=g["first"],
                last_seen=g["last"],
                event_ids=tuple(dict.fromkeys(g["ids"])),
                metric=int(e["metric"]),
                instants=tuple(e["instants"]),
                n_events=int(g["n"]),
            )
        )
    return out


def _ordered_hits(con: Any, corr: Correlation, gcols: list[str]) -> list[CorrelationMatch]:
    n = len(corr.rules)
    last = n - 1
    sel = ", ".join(f"c{k}.event_id AS e{k}, c{k}.ts AS t{k}" for k in range(n))
    gsel = "".join(f"c{last}.{c} AS {c}, " for c in gcols)
    joins = ""
    for k in range(last - 1, -1, -1):
        on = "".join(f"c{k}.{c} = c{k + 1}.{c} AND " for c in gcols)
        joins += (
            f" ASOF JOIN (SELECT * FROM {MATCHES} WHERE r = {k}) c{k} ON {on}c{k}.ts <= c{k + 1}.ts"
        )
    chains = _arrow(
        con,
        f"SELECT {gsel}{sel} FROM (SELECT * FROM {MATCHES} WHERE r = {last}) c{last}{joins} "
        f"WHERE c0.ts >= c{last}.ts - INTERVAL ({corr.timespan_s}) SECOND "
        f"ORDER BY {''.join(f'{c}, ' for c in gcols)}t0, t{last}",
    ).to_pylist()
    merged: list[dict[str, Any]] = []
    for ch in chains:
        key = tuple(ch[c] for c in gcols)
        events = [(ch[f"t{k}"], ch[f"e{k}"]) for k in range(n)]
        prev = merged[-1] if merged else None
        if prev and prev["key"] == key and ch["t0"] <= prev["end"]:
            prev["end"] = max(prev["end"], ch[f"t{last}"])
            prev["events"].update(events)
            prev["instants"].add(ch[f"t{last}"])
        else:
            merged.append(
                {
                    "key": key,
                    "end": ch[f"t{last}"],
                    "events": set(events),
                    "instants": {ch[f"t{last}"]},
                }
            )
    return [
        CorrelationMatch(
            group=tuple(zip(corr.group_by, m["key"], strict=True)),
            first_seen=min(t for t, _ in m["events"]),
            last_seen=max(t for t, _ in m["events"]),
            event_ids=tuple(dict.fromkeys(e for _, e in sorted(m["events"])))[:MATCH_IDS],
            metric=n,
            instants=tuple(sorted(m["instants"])),
            n_events=len({e for _, e in m["events"]}),
        )
        for m in merged
    ]
