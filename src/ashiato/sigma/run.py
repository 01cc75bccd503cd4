"""Run compiled Sigma rules over the event store and turn their matches into findings.

Sigma matches join the same queue as the behavioural detectors: one ``Finding`` per rule and
actor (account and source host, or the recording host for endpoint events that name no source),
one per correlation match.

Reading the ``raw`` map dominates a scan, so the events are read once: the rows of the event
codes any rule can match (``prefilter``: DuckDB pushes that filter into the Parquet reader) are
**flattened** into a table of a scratch database on disk (compressed, read through DuckDB's
buffer pool under a small memory limit), every ``raw`` key a rule reads extracted once into a
plain column, each row numbered in time order and given an integer actor id. The rules are then
evaluated in chunks of rules that share their event codes: a chunk evaluates only its codes'
rows, computes the conditions its rules share once per row, and groups its matches per rule and
actor as it evaluates them, so no table of all matches is ever built. Correlations read their
base rules' matches from the same table. Rules that name no event code see every row.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ashiato.detect.spec import Finding
from ashiato.sigma import memory, screen
from ashiato.sigma.compile import CompiledRule, CompiledRuleSet
from ashiato.sigma.correlate import CorrelationMatch, correlate, flat_keys
from ashiato.sigma.fields import (
    CHANNEL,
    FULLTEXT,
    KEYWORD_PREFIX,
    SERVICES,
    flat_column,
    flatten,
    raw_key,
    sql_string,
)
from ashiato.sigma.findings import correlation_finding, match_entities, rule_findings
from ashiato.sigma.prefilter import CODE_COLUMN, codes_sql
from ashiato.sigma.sqltext import conjuncts

MAX_EVIDENCE = 2000
MAX_FINDINGS_PER_RULE = 100
"""Actors with a finding of their own per rule and run (those with the most events); the rule's
other matches fold into one more finding that counts them (``None``: no cap). A rule that fires
for tens of thousands of actors is one alarm about a broad rule, not tens of thousands."""
MAX_FOLDED_EVIDENCE = 100
"""Evidence of a rule's folded finding: the first event of each of its earliest folded actors,
at most this many (and at most ``max_evidence``)."""
MEMORY_LIMIT = "auto"
"""DuckDB's memory limit while Sigma rules run (its tables live in a scratch database on disk
and spill past it): ``auto`` starts from the machine's memory (``memory.budget``); any limit is
raised when a statement runs out (``memory.MemoryBudget``)."""
CHUNK = 64
"""Rules whose matches are grouped together (bounds the size of one SQL statement and the
number of matches grouped at once)."""
HITS_BATCH = 2_000_000
"""Matches grouped together (``_batches``): rules are grouped in batches of about this many
matches (a rule with more, alone)."""
PLAN_BOUND_ROWS = 1_000_000
"""Up to this many flattened rows, the rule statements run with DuckDB's optimizers off
(``_optimizers_off``)."""
SCREEN = True
"""Set aside the rules whose strings no event contains before evaluating any (``screen``)."""
SCREEN_CHUNK = 256
"""Rules evaluated together by ``collect_hits``."""
SCRATCH = "_sigma_scratch"
BASE = f"{SCRATCH}.base"
LOCAL_ROWS = 1_000_000
"""Up to this many events in the store, the pass copies the rows its rules can match into the
scratch database first (``_local_rows``)."""
_FILE_SCANS = ("READ_PARQUET", "Read Parquet", "READ_CSV", "READ_JSON")
"""What DuckDB's plan of a relation names when it reads files."""
FLAT = f"{SCRATCH}.flat"
GRP = f"{SCRATCH}.grp"
EVID = f"{SCRATCH}.evid"
PER = f"{SCRATCH}.per"
ORD = f"{SCRATCH}.ord"
MULTI = f"{SCRATCH}.multi"
HITS_TABLE = f"{SCRATCH}.hits"
OUT = f"{SCRATCH}.out"
HITS = "_sigma_hits"
_ENTITY_COLS = '"user", src_host, dst_host, log_host, src_ip, dst_ip'
_HIT_COLS = f"event_id, ts, {_ENTITY_COLS}"


def _setting(con: Any, name: str) -> Any:
    return con.sql(f"SELECT current_setting('{name}')").fetchall()[0][0]


@contextmanager
def scratch(con: Any) -> Iterator[None]:
    """A scratch DuckDB database on disk attached as SCRATCH (in the connection's
    ``temp_directory`` when it exists), detached and deleted afterwards."""
    spill = str(_setting(con, "temp_directory") or "")
    base = spill if spill and Path(spill).is_absolute() else None
    if base is not None:
        Path(base).mkdir(parents=True, exist_ok=True)
    where = tempfile.mkdtemp(prefix="ashiato-sigma-", dir=base)
    con.execute(f"ATTACH {sql_string(str(Path(where) / 'scratch.duckdb'))} AS {SCRATCH}")
    try:
        yield
    finally:
        try:
            con.execute(f"DETACH {SCRATCH}")
        finally:
            shutil.rmtree(where, ignore_errors=True)


def flatten_events(
    con: Any, rules: Sequence[CompiledRule], table: str, keys: Sequence[str] = ()
) -> None:
    """FLAT (in SCRATCH): the rows of the rules' event codes with ``seq``, a row's rank in
    (time, event id) order, the entity columns, ``aid``, the rank of the row's actor (user,
    and source host or else the recording host), and every ``raw`` key the rules read (as
    written, lower-cased or a keyword test, as needed; plus ``keys``) extracted once into a
    plain column.

    The events are read once and streamed into FLAT unsorted (sorting the wide rows would hold
    them in memory); ``seq`` is ranked on a narrow scan of the same rows and paired with them by
    position, which needs ``preserve_insertion_order`` (``iter_findings`` sets it). The pairing
    is checked row by row: an event id that differs stops the run rather than mislabel rows."""
    names = dict.fromkeys([*(k for r in rules for k in r.keys), *keys])
    where = rows_sql(rules)
    filtered = f"{table}{' WHERE ' + where if where else ''}"
    con.execute(
        f"CREATE OR REPLACE TABLE {ORD} AS SELECT seq, aid, event_id AS _oid FROM (SELECT pos, "
        f"event_id, row_number() OVER (ORDER BY ts, event_id) AS seq, "
        f'dense_rank() OVER (ORDER BY "user", actor_host) AS aid FROM (SELECT ts, event_id, '
        f'"user", coalesce(src_host, log_host) AS actor_host, row_number() OVER () AS pos '
        f"FROM {filtered})) ORDER BY pos"
    )
    cols = "".join(f", {flat_column(k)}" for k in sorted(names))
    check = "error('sigma: events changed order between two scans')"
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {FLAT} AS SELECT CASE WHEN event_id IS NOT DISTINCT FROM "
            f"_oid THEN seq ELSE {check} END AS seq, aid, event_id, ts, {CODE_COLUMN}, "
            f"{_ENTITY_COLS}{cols} FROM (SELECT * FROM "
            f"{flatten(table, names, where, keyword_guards(rules))}) POSITIONAL JOIN {ORD}"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ORD}")


def row_filter(rule: CompiledRule) -> str | None:
    """A condition every row ``rule`` matches meets (None: any row): its event codes, else its
    logsource's channels (``service``), else any Windows event (one with a ``Channel``)."""
    if rule.codes is not None:
        return codes_sql(rule.codes)
    if rule.service is not None and rule.service in SERVICES:
        names = sorted({c.lower() for c in SERVICES[rule.service]})
        return f"{CHANNEL} IN ({', '.join(sql_string(c) for c in names)})"
    if (rule.meta.product or "").lower() == "windows":
        return f"{CHANNEL} IS NOT NULL"
    return None


def _any(filters: Sequence[str | None]) -> str | None:
    if not filters or any(f is None for f in filters):
        return None
    return " OR ".join(f"({f})" for f in dict.fromkeys(f for f in filters if f))


def rows_sql(rules: Sequence[CompiledRule]) -> str:
    """A filter of the rows ``rules`` can match ("" for all): the OR of their ``row_filter``s,
    over the table's own columns. Rules that pin no event code (keyword rules on the
    Application log, say) would otherwise make every event of the store, flows and all, pay
    for every flattened column."""
    found = _any([row_filter(r) for r in rules])
    return "" if found is None else found.replace(CHANNEL, f"lower({raw_key('Channel')})")


def keyword_guards(rules: Sequence[CompiledRule]) -> dict[str, str]:
    """``flatten`` guards for keyword columns and the text they search: the rows of the rules
    that read them. A keyword rule on the Exchange log need not search the text of every
    logon (the demo: 123 keyword columns cost 25 of 32 s over 1.8 M events unguarded)."""
    readers: dict[str, list[str | None]] = {}
    for r in rules:
        for k in r.keys:
            if k.startswith(KEYWORD_PREFIX):
                readers.setdefault(k, []).append(row_filter(r))
                readers.setdefault(FULLTEXT, []).append(row_filter(r))
    return {k: g for k, fs in readers.items() if (g := _any(fs)) is not None}


def chunks(rules: Sequence[CompiledRule], size: int = CHUNK) -> list[list[int]]:
    """Indices of ``rules`` in chunks of at most ``size`` rules, those of the same event codes
    side by side (they share conjuncts)."""
    order = sorted(range(len(rules)), key=lambda i: sorted(rules[i].codes or ()))
    return [order[start : start + size] for start in range(0, len(order), size)]


def _conditions(rules: Sequence[CompiledRule]) -> tuple[list[str], dict[str, str], list[str]]:
    """(filters every rule has, shared conjunct -> column SQL, one condition per rule) for
    evaluating ``rules`` together over FLAT.

    Rule conditions are ANDs of conjuncts, and rules evaluated together share many of them (the
    event codes, the logsource's channel, a logon type, a filter): a conjunct of every rule
    filters the rows once, one of several rules is computed once per row into a column (only
    on the rows of the codes of the rules that share it). A rule's event codes are a conjunct
    of its own, so rules of different codes mix; the rows read are those of any rule's codes.

    A rule's conjuncts are chained as nested CASEs, not ANDed: in a projection DuckDB
    evaluates every operand of an AND on every row, while a CASE evaluates its branch only on
    the rows its test selects. Its event codes come first, so the rest of a rule is evaluated
    on its own codes' rows only (the 733 rules left by the screen over the 356 real EVTX: 2.9
    to 1.9 s of CPU executing, one thread)."""
    parts = [
        ([] if r.codes is None else [codes_sql(r.codes)]) + list(conjuncts(r.sql)) for r in rules
    ]
    common = [c for c in dict.fromkeys(parts[0] if parts else []) if all(c in p for p in parts)]
    sharers: dict[str, list[int]] = {}
    for i, p in enumerate(parts):
        for c in dict.fromkeys(p):
            if c not in common:
                sharers.setdefault(c, []).append(i)
    shared: dict[str, str] = {}
    for c, who in sharers.items():
        if len(who) > 1:
            codes = [rules[i].codes for i in who]
            guard = None
            if all(k is not None for k in codes) and not c.startswith(f'"{CODE_COLUMN}"'):
                guard = codes_sql(frozenset().union(*(k or () for k in codes)))
            value = f"COALESCE(({c}), false)"
            shared[c] = f"CASE WHEN {guard} THEN {value} END" if guard else value
    names = {c: f"_c{i}" for i, c in enumerate(shared)}
    where = [f"({c})" for c in common if c]
    if rules and all(r.codes is not None for r in rules):
        union = frozenset().union(*(r.codes or () for r in rules))
        if codes_sql(union) not in common:
            where.insert(0, codes_sql(union))
    conds = [_chain([names.get(c, f"({c})") for c in p if c not in common]) for p in parts]
    return where, {names[c]: sql for c, sql in shared.items()}, conds


def _chain(conjuncts: Sequence[str]) -> str:
    """``conjuncts`` all true (false for NULL), evaluating each only where those before hold."""
    if not conjuncts:
        return "true"
    out = f"COALESCE({conjuncts[-1]}, false)"
    for c in reversed(conjuncts[:-1]):
        out = f"CASE WHEN {c} THEN {out} ELSE false END"
    return out


def _source(source: str, where: list[str], shared: dict[str, str]) -> str:
    pre = "".join(f", {sql} AS {name}" for name, sql in shared.items())
    filtered = f"{source}{' WHERE ' + ' AND '.join(where) if where else ''}"
    return f"(SELECT *{pre} FROM {filtered})"


def hits_sql(
    rules: Sequence[CompiledRule],
    source: str = FLAT,
    cols: str = "seq, ts, aid",
) -> str:
    """(r, ``cols``) per match of ``rules`` (``r`` indexes them) over ``source`` (FLAT or a
    subset of its rows); see ``_conditions``. Each rule's condition is projected as a column
    and only rows where one holds build the list of matching rules (most rows match none)."""
    where, shared, conds = _conditions(rules)
    flags = "".join(f", {c} AS _r{i}" for i, c in enumerate(conds))
    tags = ", ".join(f"CASE WHEN _r{i} THEN {i} END" for i in range(len(conds)))
    any_rule = " OR ".join(f"_r{i}" for i in range(len(conds))) or "false"
    return (
        f"SELECT unnest(list_filter([{tags}], lambda x: x IS NOT NULL)) AS r, {cols} "
        f"FROM (SELECT *{flags} FROM {_source(source, where, shared)}) WHERE {any_rule}"
    )


def collect_hits(con: Any, rules: Sequence[CompiledRule], size: int = SCREEN_CHUNK) -> list[int]:
    """Evaluate every rule once over FLAT, writing each match as (r, seq, ts, aid) to
    HITS_TABLE (``r`` indexes ``rules``); return how many rows each rule matched.

    Most rules of a community set match nothing in a given collection and most others a
    handful of rows, so the matches are few and one table of them serves grouping and
    evidence, with no rule evaluated twice. Rules are evaluated ``size`` to a statement
    (ordered by event codes, so that neighbours share conjuncts: ``hits_sql``), not a handful
    of statements per rule: on a small collection, planning the rules' SQL is most of the
    cost. DuckDB's filter pushdown is off for these statements: it would copy every rule's
    condition below the projection that computes it, evaluating each twice. The table lives
    in the scratch database on disk: a broad rule's millions of matches spill, they are not
    held."""
    order = sorted(range(len(rules)), key=lambda i: sorted(rules[i].codes or ()))
    con.execute(
        f"CREATE OR REPLACE TABLE {HITS_TABLE} (r INTEGER, seq BIGINT, ts TIMESTAMPTZ, aid BIGINT)"
    )
    statements = [
        f"INSERT INTO {HITS_TABLE} SELECT [{', '.join(map(str, idx))}][r + 1], "
        f"seq, ts, aid FROM ({hits_sql([rules[i] for i in idx])})"
        for idx in (order[at : at + size] for at in range(0, len(order), size))
    ]
    old = _setting(con, "disabled_optimizers")
    off = ",".join(x for x in [str(old or ""), *_optimizers_off(con)] if x)
    con.execute(f"SET disabled_optimizers = {sql_string(off)}")
    try:
        _run_parallel(con, statements, f"SET disabled_optimizers = {sql_string(off)}")
    finally:
        con.execute(f"SET disabled_optimizers = {sql_string(str(old or ''))}")
    found = [0] * len(rules)
    for r, n in con.execute(f"SELECT r, count(*) FROM {HITS_TABLE} GROUP BY r").fetchall():
        found[int(r)] = int(n)
    return found


def _optimizers_off(con: Any) -> list[str]:
    """DuckDB optimizers to leave out of the rule statements: filter pushdown always (it
    copies every rule's condition below the projection that computes it, evaluating each
    twice); on a flattened table of at most ``PLAN_BOUND_ROWS`` rows every optimizer, since
    planning 256 rule conditions then costs more than the plans save (22 % less CPU over the
    356 real EVTX files, the same matches). Past that bound execution dominates and the
    optimizers (column pruning above all) pay."""
    rows = int(con.execute(f"SELECT count(*) FROM {FLAT}").fetchall()[0][0])
    if rows > PLAN_BOUND_ROWS:
        return ["filter_pushdown"]
    names = [str(r[0]) for r in con.execute("SELECT name FROM duckdb_optimizers()").fetchall()]
    return [n for n in names if n != "extension"]


def _run_parallel(con: Any, statements: Sequence[str], setup: str) -> None:
    """Run ``statements`` (appends to one table, in any order) on as many cursors of ``con``
    as DuckDB has threads. On a small collection each statement is mostly planning, which
    DuckDB does on one thread: two statements at a time halve the wall time on two cores
    (8.4 -> 4.4 s over the 356 real EVTX). ``con`` may be a ``memory.MemoryBudget``: each
    statement is then retried under a raised limit when it runs out of memory."""
    workers = max(1, min(len(statements), int(_setting(con, "threads") or 1)))
    if workers == 1:
        for sql in statements:
            con.execute(sql)
        return
    from concurrent.futures import ThreadPoolExecutor

    raw = getattr(con, "con", con)
    run = getattr(con, "execute_on", None)

    def work(chunk: Sequence[str]) -> None:
        cur = raw.cursor()
        try:
            cur.execute(setup)
            for sql in chunk:
                if run is not None:
                    run(cur, sql)
                else:
                    cur.execute(sql)
        finally:
            cur.close()

    with ThreadPoolExecutor(workers) as pool:
        for f in [pool.submit(work, statements[i::workers]) for i in range(workers)]:
            f.result()


def rule_hits(con: Any, rules: Sequence[CompiledRule], table: str = "events") -> None:
    """Fill temp table HITS with (rule index, event id, ts, entity columns) (tests, debugging:
    ``iter_findings`` groups the matches as it evaluates them instead)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {HITS} (r INTEGER, event_id VARCHAR, "
        'ts TIMESTAMPTZ, "user" VARCHAR, src_host VARCHAR, dst_host VARCHAR, '
        "log_host VARCHAR, src_ip VARCHAR, dst_ip VARCHAR)"
    )
    if not rules:
        return
    old = _setting(con, "preserve_insertion_order")
    con.execute("SET preserve_insertion_order = true")
    try:
        with scratch(con):
            flatten_events(con, rules, table)
            for idx in chunks(rules):
                batch = [rules[i] for i in idx]
                pos = ", ".join(str(i) for i in idx)
                con.execute(
                    f"INSERT INTO {HITS} SELECT [{pos}][r + 1], {_HIT_COLS} "
                    f"FROM ({hits_sql(batch, cols=_HIT_COLS)})"
                )
    finally:
        con.execute(f"SET preserve_insertion_order = {old}")


def group_chunk(
    con: Any,
    rules: Sequence[CompiledRule],
    max_evidence: int,
    per_rule: int | None,
    hits: str,
) -> Any:
    """The matches of ``rules`` (one batch) grouped per rule and actor, as a DuckDB
    relation of (r, user, actor_host, n, first, last, ids, src, dst, log, sip, dip, others)
    ordered by rule and time: ``ids`` the evidence event ids in time order, the others the
    distinct entities of those events.

    The matches are grouped per rule and actor (``aid``) (count, last time, first row), then
    per rule, with bounded states only: the totals, the ``per_rule``
    actors with the most events (then the earliest: ``min_by`` keeps a heap of that many), the
    earliest actors and the latest ones (enough of them to know the folded actors' earliest
    ``MAX_FOLDED_EVIDENCE``, whose first events are the folded row's evidence, and their last
    time). A row's ``first`` is its earliest evidence event's time.
    The first ``max_evidence`` matches of the kept actors that matched more than once are then
    read back, and the evidence rows' ids and entities read from FLAT. No table of all groups
    is built. Leaves GRP and EVID behind.

    ``hits``: a FROM item of the chunk's matches, (r, seq, ts, aid) (``collect_hits``)."""
    cap = max(1, max_evidence)
    fold = max(1, min(cap, MAX_FOLDED_EVIDENCE))
    group = "{'fs': fs, 'n': n, 'last': last}"
    if per_rule is None:
        kept, early, latest = f"list({group} ORDER BY n DESC, fs)", "[]::BIGINT[]", "[]"
    elif per_rule <= 0:
        kept = f"list({group}) FILTER (WHERE false)"
        early = f"min_by(fs, fs, {fold})"
        latest = "max_by({'fs': fs, 'last': last}, last, 1)"
    else:
        kept = f"min_by({group}, {{'n': -n, 'fs': fs}}, {per_rule})"
        early = f"min_by(fs, fs, {per_rule + fold})"
        latest = f"max_by({{'fs': fs, 'last': last}}, last, {per_rule + 1})"
    con.execute(
        f"CREATE OR REPLACE TABLE {PER} AS SELECT r, sum(n) AS tn, count(*) AS tc, "
        f"coalesce({kept}, []) AS kept, {early} AS early, {latest} AS latest "
        f"FROM (SELECT r, count(*) AS n, max(ts) AS last, min(seq) AS fs FROM "
        f"(SELECT r, seq, ts, aid FROM {hits}) "
        f"GROUP BY r, aid) GROUP BY r"
    )
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {GRP} AS SELECT row_number() OVER () AS gid, * FROM ("
            f"SELECT r, k.n, k.last, k.fs, 0::BIGINT AS others, NULL::BIGINT[] AS ev "
            f"FROM (SELECT r, unnest(kept) AS k FROM {PER}) "
            f"UNION ALL SELECT r, CAST(tn - coalesce(list_sum(kn), 0) AS BIGINT), "
            f"list_max(list_transform(list_filter(latest, "
            f"lambda x: NOT list_contains(kfs, x.fs)), lambda x: x.last)), "
            f"f[1], tc - len(kept), f[1:{fold}] FROM (SELECT *, "
            f"list_filter(early, lambda x: NOT list_contains(kfs, x)) AS f FROM (SELECT *, "
            f"list_transform(kept, lambda x: x.fs) AS kfs, "
            f"list_transform(kept, lambda x: x.n) AS kn FROM {PER})) WHERE tc > len(kept))"
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {PER}")
    if rules and all(r.codes is not None for r in rules):
        where = f" WHERE {codes_sql(frozenset().union(*(r.codes or () for r in rules)))}"
    else:
        where = ""
    rows = f"(SELECT * FROM {FLAT}{where})"
    single = (
        f"SELECT gid, fs AS seq FROM {GRP} WHERE others = 0 AND n = 1 "
        f"UNION ALL SELECT gid, unnest(ev) FROM {GRP} WHERE others > 0"
    )
    multi = (
        f"SELECT g.gid, g.r, f.aid FROM {GRP} g JOIN {rows} f ON f.seq = g.fs "
        f"WHERE g.others = 0 AND g.n > 1"
    )
    if con.sql(f"SELECT count(*) FROM {GRP} WHERE others = 0 AND n > 1").fetchall()[0][0]:
        con.execute(f"CREATE OR REPLACE TABLE {MULTI} AS {multi}")
        same = "h.r = g.r AND h.aid = g.aid"
        again = f"SELECT r, seq, aid FROM {hits}"
        con.execute(
            f"CREATE OR REPLACE TABLE {EVID} AS SELECT g.gid, h.seq "
            f"FROM ({again}) h JOIN {MULTI} g ON {same} "
            f"QUALIFY row_number() OVER (PARTITION BY g.gid ORDER BY h.seq) <= {cap} "
            f"UNION ALL {single}"
        )
        con.execute(f"DROP TABLE IF EXISTS {MULTI}")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {EVID} AS {single}")
    ev = (
        "list(f.event_id ORDER BY e.seq) AS ids, list(DISTINCT f.src_host) AS src, "
        "list(DISTINCT f.dst_host) AS dst, list(DISTINCT f.log_host) AS log, "
        "list(DISTINCT f.src_ip) AS sip, list(DISTINCT f.dst_ip) AS dip"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {OUT} AS "
        f'SELECT g.r, CASE WHEN g.others = 0 THEN first(f."user") END AS "user", '
        f"CASE WHEN g.others = 0 THEN first(coalesce(f.src_host, f.log_host)) END AS actor_host, "
        f"g.n, "
        f"min(f.ts) AS first, g.last, {ev}, g.others "
        f"FROM {GRP} g JOIN {EVID} e USING (gid) JOIN {rows} f ON f.seq = e.seq "
        f"GROUP BY g.gid, g.r, g.n, g.last, g.others ORDER BY r, first"
    )
    return con.sql(f"SELECT * FROM {OUT}")  # a table read streams in little memory


def iter_findings(
    con: Any,
    compiled: CompiledRuleSet,
    *,
    table: str = "events",
    max_evidence: int = MAX_EVIDENCE,
    max_findings_per_rule: int | None = MAX_FINDINGS_PER_RULE,
    memory_limit: str | None = MEMORY_LIMIT,
    stats: dict[str, Any] | None = None,
) -> Iterator[Finding]:
    """Findings of every compiled rule and correlation over ``table``, streamed per chunk.

    Memory stays bounded: the events are flattened once into a scratch database on disk (see
    ``scratch``), each chunk's matches are grouped per rule and actor as they are evaluated,
    with fixed-size states, evidence is fetched for the kept groups only (``group_chunk``), and
    the grouped rows are read one Arrow batch at a time. ``memory_limit`` (DuckDB's, for the
    pass: ``auto`` from the machine, a size such as ``256MB``, or ``None``: the connection's)
    is where the pass starts; a statement that runs out of memory raises it, up to what the
    machine can spare, and runs again (``memory.MemoryBudget``). The connection's limit and
    ``preserve_insertion_order`` are restored after. ``stats``, when given, receives
    ``memory_limit_start``, ``memory_limit_end`` (bytes) and ``memory_raised`` (the
    out-of-memory errors that raised it). Do not use ``con`` while iterating.
    """
    old_limit = _setting(con, "memory_limit")
    old_order = _setting(con, "preserve_insertion_order")
    start, cap = memory.budget()
    if memory_limit is None:
        start = memory.parse_size(str(old_limit))
    elif memory_limit != "auto":
        start = memory.parse_size(memory_limit)
    mem = memory.MemoryBudget(con, start, max(cap, start))
    mem.apply()
    con.execute("SET preserve_insertion_order = true")
    try:
        with scratch(con):
            yield from _iter_findings(
                mem, compiled, table, max_evidence, max_findings_per_rule, stats
            )
    finally:
        con.execute(f"SET preserve_insertion_order = {old_order}")
        con.execute(f"SET memory_limit = '{old_limit}'")
        if stats is not None:
            stats.update(
                memory_limit_start=start, memory_limit_end=mem.limit, memory_raised=mem.raised
            )


def _iter_findings(
    con: memory.MemoryBudget,
    compiled: CompiledRuleSet,
    table: str,
    max_evidence: int,
    max_findings_per_rule: int | None,
    stats: dict[str, Any] | None = None,
) -> Iterator[Finding]:
    # Rules that only feed correlations are evaluated by the correlations themselves, over
    # the same flattened table.
    rules = [r for r in compiled.rules if r.generate]
    bases: list[CompiledRule] = []
    keys: list[str] = []
    for corr in compiled.correlations:
        more, more_keys = flat_keys(corr)
        bases += more
        keys += more_keys
    if not rules and not bases:
        return
    table = _local_rows(con, table, [*rules, *bases])
    if rules and SCREEN:
        where = rows_sql(rules)
        kept = con.retry(lambda: screen.possible(con, rules, table, where))
        if stats is not None:
            stats["screened_out"] = len(rules) - len(kept)
        rules = kept
    if not rules and not bases:
        return
    flatten_events(con, [*rules, *bases], table, keys)
    counts = collect_hits(con, rules)
    for batch, hits in _batches(rules, counts):
        grouped = group_chunk(con, batch, max_evidence, max_findings_per_rule, hits)
        for part in grouped.arrow():
            yield from rule_findings(batch, part)
            del part
    con.execute(f"DROP TABLE IF EXISTS {HITS_TABLE}")
    cache: dict[int, list[CorrelationMatch]] = {}
    for corr in compiled.correlations:  # inner correlations come before those using them
        matches = cache.get(id(corr))
        if matches is None:
            matches = cache[id(corr)] = correlate(con, corr, table, cache, flat=FLAT)
        if corr.generate and matches:
            entities = match_entities(con, matches, FLAT)
            for m, ent in zip(matches, entities, strict=True):
                yield correlation_finding(corr, m, ent, max_evidence)


def _local_rows(con: memory.MemoryBudget, table: str, rules: Sequence[CompiledRule]) -> str:
    """``table`` itself, or, when it reads files and holds at most ``LOCAL_ROWS`` rows, BASE:
    a copy of the rows ``rules`` can match in the scratch database. The pass reads its rows
    three times (screen, ranking, flattening); over many small Parquet files each read pays
    for opening them all, while a local table reads at memory speed (the 356 real EVTX files:
    flattening 1.5 -> 0.5 s of CPU from 525 files)."""
    plan = " ".join(str(r[-1]) for r in con.sql(f"EXPLAIN SELECT * FROM {table}").fetchall())
    if not any(scan in plan for scan in _FILE_SCANS):
        return table  # already a table of the database (``Store.load_events``: a small store)
    rows = int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    if rows > LOCAL_ROWS:
        return table
    where = rows_sql(rules)
    con.execute(
        f"CREATE OR REPLACE TABLE {BASE} AS SELECT * FROM {table}"
        + (f" WHERE {where}" if where else "")
    )
    return BASE


def _batches(
    rules: Sequence[CompiledRule], counts: Sequence[int]
) -> Iterator[tuple[list[CompiledRule], str]]:
    """The rules that matched (``collect_hits``), in batches of up to ``HITS_BATCH`` matches
    (a broader rule alone), each with a FROM item of its matches as (r, seq, ts, aid), ``r``
    indexing the batch: grouping works on one batch's matches at a time."""
    matched = [i for i, n in enumerate(counts) if n]
    start = 0
    while start < len(matched):
        end, total = start, 0
        while end < len(matched) and (end == start or total + counts[matched[end]] <= HITS_BATCH):
            total += counts[matched[end]]
            end += 1
        idx = matched[start:end]
        positions = ", ".join(map(str, idx))
        hits = (
            f"(SELECT CAST(list_position([{positions}], r) - 1 AS INTEGER) AS r, seq, ts, aid "
            f"FROM {HITS_TABLE} WHERE r IN ({positions}))"
        )
        yield [rules[i] for i in idx], hits
        start = end


def run_rules(
    con: Any,
    compiled: CompiledRuleSet,
    *,
    table: str = "events",
    max_evidence: int = MAX_EVIDENCE,
    max_findings_per_rule: int | None = MAX_FINDINGS_PER_RULE,
    memory_limit: str | None = MEMORY_LIMIT,
    stats: dict[str, Any] | None = None,
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
            stats=stats,
        )
    )
