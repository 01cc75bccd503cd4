"""Run stateful detectors one UTC day at a time: judge the day against the state, fold it in.

The same loop serves a first (batch) run and every later one: a batch run folds every day of the
store in order; a later run finds the days whose event files changed since the state was written
(new days after the watermark, or a late office's older day), rolls the state back to just before
the earliest of them (from the per-day deltas) and judges from there. So 30 daily runs and one
batch run make the same state and the same per-day findings, and a run over one new day reads
that day and the state, not the history.

Findings of one key judged on several days (a reactivation whose evidence runs past midnight, a
pair followed for weeks) are kept per day (``parts``) and merged: earliest first seen, latest last
seen, evidence counts summed, the words of the strongest day.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa

from ashiato.detect.enrich import enrich
from ashiato.detect.parts import merge_findings
from ashiato.detect.slices import day_slices, slice_bytes, slice_days
from ashiato.detect.spec import (
    DetectionContext,
    DetectorModule,
    Finding,
    Stage,
    findings_table,
)
from ashiato.detect.sqlcache import SqlCache, cache_root
from ashiato.detect.state import DetectorState, Meta, fingerprint, reset
from ashiato.detect.statetables import (
    add,
    combined,
    keeps_to,
    load_state,
    save_state,
    state_name,
    state_sources,
)
from ashiato.errors import DetectError
from ashiato.events import ACCESS_EVENT
from ashiato.inventory.model import Inventory
from ashiato.inventory.resolve import Resolver
from ashiato.store.layout import StoreLayout


@dataclass(frozen=True)
class FoldRun:
    """What the fold did for one detector."""

    detector: str
    findings: list[Finding]
    days_judged: int
    watermark: str | None
    rebuilt: str | None  # why the state was begun afresh, if it was
    seconds: float


def event_files_by_day(layout: StoreLayout) -> dict[str, list[str]]:
    """The store's event files per UTC day (``YYYY-MM-DD`` -> ``name:size:mtime``, sorted).

    Ingest never rewrites a committed file (its name is its input's hash), but a store is a
    plain directory: a file replaced in place under the same name is a changed day too."""
    days: dict[str, list[str]] = defaultdict(list)
    for f in layout.events_dir.glob("day=*/*.parquet"):
        st = f.stat()
        days[f.parent.name.removeprefix("day=")].append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return {d: sorted(v) for d, v in sorted(days.items())}


def run_stateful(
    layout: StoreLayout,
    con: Any,
    detectors: Sequence[DetectorModule],
    inventory: Inventory | None,
    params: Mapping[str, Mapping[str, Any]],
    data_start: datetime | None,
    execute: Callable[[ibis.Expr], pa.Table],
    progress: Callable[[str], None] | None = None,
) -> list[FoldRun]:
    """Bring every detector's state and findings up to the store's events (see the module)."""
    raw = con.con
    files = event_files_by_day(layout)
    inv_json = inventory.model_dump_json() if inventory is not None else ""
    start_iso = data_start.isoformat() if data_start is not None else None
    plans = []
    sources: dict[int, dict[str, tuple[list[str], bool]]] = {}
    for i, det in enumerate(detectors):
        spec = det.SPEC
        merged = {**spec.defaults(), **params.get(spec.id, {})}
        fp = fingerprint(spec.id, spec.version, merged, spec.state, inv_json)
        ds = DetectorState(layout, spec.id)
        meta, why, first = _open(ds, fp, start_iso, files, "detector, parameters or inventory")
        if first is not None:  # else nothing new: the state stays put, unread
            # read when the detector's first slice comes (``_load_state``), before this
            # forgets the days from ``first`` on
            sources[i] = {t.name: state_sources(ds, meta, t, first) for t in spec.state}
            ds.drop_days_from(first, spec.state)
            for d in [d for d in meta.days if d >= first]:
                del meta.days[d]
            for a in [a for a in meta.slices if a >= first]:
                del meta.slices[a]
        plans.append((i, det, merged, ds, meta, first, why))
    # each detector's slices: runs of days for a multi-day one, single days for the others;
    # the events of a slice are read once for every detector judging that slice
    size, most = slice_days(), slice_bytes()
    weight = {d: sum(int(f.rsplit(":", 2)[1]) for f in fs) for d, fs in files.items()}
    by_slice: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for plan in plans:
        first = plan[5]
        if first is None:
            continue
        mine = [d for d in files if d >= first]
        for sl in day_slices(mine, size if plan[1].SPEC.multi_day else 1, weight, most):
            by_slice[sl].append(plan)
    judged: dict[str, int] = defaultdict(int)
    elapsed: dict[str, float] = defaultdict(float)
    ctx_days = max((det.SPEC.context_days for det in detectors), default=0)
    day = _DayReader(raw, con, layout, inventory, execute)
    compiled: dict[int, _Compiled] = {}
    cache = SqlCache(cache_root() if by_slice else None, inventory)
    order = sorted(by_slice, key=lambda sl: (sl[0], len(sl)))
    # a detector's state is in memory from its first slice to its last only: a run over one
    # new day holds one detector's state at a time beside the day's events
    last = {plan[0]: chunk for chunk in order for plan in by_slice[chunk]}
    for chunk in order:
        d = chunk[0]
        if progress:
            progress(f"day {d}" if len(chunk) == 1 else f"days {d} to {chunk[-1]}")
        read = [
            x
            for x in (
                (date.fromisoformat(d) - timedelta(days=k)).isoformat()
                for k in range(ctx_days, 0, -1)
            )
            if x in files
        ] + list(chunk)
        day.load(d, {x: files[x] for x in read}, data_start)
        for i, det, merged, ds, meta, _first, _why in by_slice[chunk]:
            t0 = time.perf_counter()
            spec = det.SPEC
            try:
                if i in sources:
                    load_state(raw, spec, sources.pop(i))
                if i not in compiled:  # built and compiled once: only the tables' rows change
                    dctx = day.context(det, merged, data_start)
                    compiled[i] = _compile(con, det, dctx, cache)
                c = compiled[i]
                c.make_stages(raw)
                rows = _run(raw, c.query).to_pylist()
                by_day = _by_part_day(spec.id, rows, chunk, spec.multi_day)
                # every delta is read before any is added: they read the state as it was
                deltas = {t.name: combined(raw, _run(raw, c.folds[t.name]), t) for t in spec.state}
                c.drop_stages(raw)
                for t in spec.state:
                    delta = deltas[t.name]
                    keeps_to(spec.id, t, delta, chunk)
                    if delta.num_rows:
                        ds.write(ds.delta_file(t.name, d), delta)
                        add(raw, state_name(spec.id, t), t, delta)
                    expire = t.expire_sql(state_name(spec.id, t))
                    if expire:  # a storage bound only: queries filter to their window
                        raw.execute(expire)
                for pday, prow in by_day.items():
                    found = [det.explain(r, c.ctx) for r in prow]
                    keys = pa.array([f.key for f in found], pa.string())
                    table = findings_table(found).append_column("key", keys)
                    ds.write(ds.part_file(pday), table)
            except DetectError:
                raise
            except Exception as exc:  # the engine's error, named after the detector and day
                if isinstance(exc, (KeyboardInterrupt, MemoryError)):
                    raise
                raise DetectError(f"detector {spec.id} failed on {d}: {exc}") from exc
            for x in chunk:
                meta.days[x] = files[x]
            meta.slices[d] = chunk[-1]
            if last[i] == chunk:
                save_state(raw, spec, ds, meta)
            judged[spec.id] += len(chunk)
            elapsed[spec.id] += time.perf_counter() - t0
    day.close()
    runs = []
    for i, det, _merged, ds, meta, _first, why in plans:
        spec = det.SPEC
        t0 = time.perf_counter()
        if i in sources:  # days were removed, none judged: the state as it stood before them
            load_state(raw, spec, sources.pop(i))
            save_state(raw, spec, ds, meta)
        parts = ds.read_parts()
        found = merge_findings(parts, latest=spec.words == "latest") if parts is not None else []
        runs.append(
            FoldRun(
                spec.id,
                found,
                judged[spec.id],
                meta.watermark,
                why,
                elapsed[spec.id] + time.perf_counter() - t0,
            )
        )
    return runs


def _by_part_day(
    detector: str, rows: list[dict[str, Any]], chunk: Sequence[str], multi_day: bool
) -> dict[str, list[dict[str, Any]]]:
    """A slice's rows per the day each is judged on (a one-day slice's: that day)."""
    if not multi_day:
        return {chunk[0]: rows} if rows else {}
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        pd = r.pop("part_day", None)
        key = pd.isoformat()[:10] if pd is not None else None
        if key is None or key not in chunk:
            raise DetectError(
                f"detector {detector}: a row judged on {key} is outside its slice "
                f"{chunk[0]} to {chunk[-1]} (a multi-day query must give each row its part_day)"
            )
        out[key].append(r)
    return dict(out)


def _open(
    ds: DetectorState,
    fp: str,
    start_iso: str | None,
    files: Mapping[str, list[str]],
    what: str,
) -> tuple[Meta, str | None, str | None]:
    """The state's record (begun afresh, and why, when it belongs to another fingerprint or
    data start) and the first day whose event files changed since it was written."""
    meta, why = ds.meta(), None
    if meta is None:
        why = "no state yet"
    elif meta.fingerprint != fp:
        why = f"{what} changed"
    elif meta.data_start != start_iso:
        why = "events before the state's first day arrived"
    if meta is None or why is not None:
        ds.reset()
        meta = Meta(fp, start_iso)
    changed = [d for d in files if meta.days.get(d) != files[d]]
    changed += [d for d in meta.days if d not in files]  # a day whose events were removed
    return meta, why, meta.rollback_day(min(changed)) if changed else None


@dataclass(frozen=True)
class _Compiled:
    """A detector's day queries, compiled once: (SQL, result schema) for ``query`` and each
    state table's ``fold``, and the context they were built in (``explain`` reads it)."""

    ctx: DetectionContext
    query: tuple[str, ibis.Schema]
    folds: dict[str, tuple[str, ibis.Schema]]
    stages: dict[str, tuple[str, ibis.Schema]] = field(default_factory=dict)
    """The temp table each of the module's ``STAGES`` is made into (in order), and its SQL."""

    def make_stages(self, raw: Any) -> None:
        """The slice's stages, each once, before its query and folds read them."""
        for table, (sql, _) in self.stages.items():
            raw.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")

    def drop_stages(self, raw: Any) -> None:
        """Free the stages' memory: the next slice makes them again."""
        for table in self.stages:
            raw.execute(f"DROP TABLE IF EXISTS {table}")


def _stage_table(detector: str, name: str) -> str:
    """The temp table of ``detector``'s stage ``name`` (named as state tables are)."""
    return "stage_" + re.sub(r"[^0-9A-Za-z]", "_", detector) + "_" + name


def _compile(con: Any, det: DetectorModule, ctx: DetectionContext, cache: SqlCache) -> _Compiled:
    """The detector's slice queries: from ``cache`` when kept by an earlier run, else built,
    compiled and kept (unless building read data: ``SqlCache``). SQL that calls a Python
    function is kept too; the function is registered by building the expression (cheap next
    to compiling it) before the kept SQL is used."""
    spec = det.SPEC
    stage_defs: Mapping[str, Stage] = getattr(det, "STAGES", {})
    names = [*(f"stage:{n}" for n in stage_defs), "query", *(t.name for t in spec.state)]
    material = [
        "fold",
        spec.id,
        spec.version,
        sorted((k, repr(v)) for k, v in ctx.params.items()),
        # the start is a table value (``fold_day``); its year picks the holiday calendars
        None if ctx.data_start is None else ctx.data_start.year,
        [(n, str(t)) for n, t in con.table("day_events").schema().items()],
        str(ctx.events.op().__class__.__name__),
        list(stage_defs),  # a statement reads the stages' tables, or builds them inline
    ]
    keys = {n: cache.named_key([*material, n]) for n in names}
    hits = {n: cache.get(k, con.con.register) for n, k in keys.items()}
    functions = getattr(det, "functions", None)  # a module calling Python functions has it
    if functions is not None and all(hits.values()):  # registered on this connection
        for expr in functions():
            con._register_udfs(expr)
    stage_hits = {n: hits[f"stage:{n}"] for n in stage_defs}
    if all(hits.values()) and _make_empty(con, spec.id, stage_hits):
        got = {n: h for n, h in hits.items() if h is not None and _binds(con.con, h)}
        if len(got) == len(names):
            tables = {n: _stage(con, spec.id, n, got[f"stage:{n}"][1]) for n in stage_defs}
            stages = {_stage_table(spec.id, n): got.pop(f"stage:{n}") for n in stage_defs}
            return _Compiled(replace(ctx, stages=tables), got.pop("query"), got, stages)
    reads = 0

    def counting(expr: ibis.Expr) -> pa.Table:
        nonlocal reads
        reads += 1
        return ctx.execute(expr)

    built = replace(ctx, execute=counting, stages={})
    out: dict[str, tuple[str, ibis.Schema]] = {}
    made: dict[str, ibis.Table] = {}
    for name, build in stage_defs.items():  # each built over the stages before it
        expr = build(replace(built, stages=dict(made)))
        out[f"stage:{name}"] = _compiled_sql(
            con, expr, hits[f"stage:{name}"], reads, cache, keys[f"stage:{name}"]
        )
        _make_empty(con, spec.id, {name: out[f"stage:{name}"]})
        made[name] = _stage(con, spec.id, name, out[f"stage:{name}"][1])
    built = replace(built, stages=made)
    ctx = replace(ctx, stages=made)

    fold = getattr(det, "fold", None)  # a module with state tables defines it
    exprs = fold(built) if fold is not None else {}
    missing = {t.name for t in spec.state} - set(exprs)
    if missing:
        raise DetectError(f"detector {spec.id}: fold gives no {sorted(missing)}")
    exprs = {"query": det.query(built), **exprs}
    for name, expr in exprs.items():
        out[name] = _compiled_sql(con, expr, hits[name], reads, cache, keys[name])
    stages = {_stage_table(spec.id, n): out.pop(f"stage:{n}") for n in stage_defs}
    return _Compiled(ctx, out.pop("query"), out, stages)


def _stage(con: Any, detector: str, name: str, schema: ibis.Schema) -> ibis.Table:
    """A stage's table as later statements read it: with the types its expression had (the
    engine's table may name them otherwise), so they compile as they would inline."""
    return con.table(_stage_table(detector, name)).cast(schema)


def _compiled_sql(
    con: Any,
    expr: ibis.Expr,
    hit: tuple[str, ibis.Schema] | None,
    reads: int,
    cache: SqlCache,
    key: str | None,
) -> tuple[str, ibis.Schema]:
    """``expr``'s SQL: the kept one when it binds, else compiled (and kept, when building
    it read no data: the same SQL next run)."""
    con._run_pre_execute_hooks(expr)  # registers in-memory tables and Python functions
    if reads == 0 and hit is not None and _binds(con.con, hit):  # kept SQL calling a
        return hit  # Python function binds once the function is registered
    text = str(con.compile(expr))
    if reads == 0:
        cache.put(key, expr, text, keep_tables=True, keep_udfs=True)
    return (text, expr.schema())


def _make_empty(
    con: Any, spec_id: str, stages: Mapping[str, tuple[str, ibis.Schema] | None]
) -> bool:
    """The stages' tables, empty, so that statements reading them bind (and compile): False
    when a kept statement no longer binds."""
    try:
        for name, hit in stages.items():
            assert hit is not None
            con.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_stage_table(spec_id, name)} AS "
                f"SELECT * FROM ({hit[0]}) LIMIT 0"
            )
    except Exception:  # any engine error: the kept entries are not usable
        return False
    return True


_BOUND: set[tuple[str, tuple[str, ...]]] = set()
"""Kept SQL already seen to bind in this process: the tables it reads have fixed names and
declared columns, and the in-memory tables and Python functions it calls are registered on
each connection before it runs (``SqlCache.get``, ``functions``)."""


def _binds(raw: Any, compiled: tuple[str, ibis.Schema]) -> bool:
    """Whether kept SQL still binds to the tables, giving its columns (a damaged or stale
    entry is built afresh): binding plans the query without running it."""
    sql, schema = compiled
    seen = (sql, tuple(schema.names))
    if seen in _BOUND:
        return True
    try:
        ok = list(raw.sql(sql).columns) == list(schema.names)
    except Exception:  # any engine error: the entry is not usable
        return False
    if ok:
        _BOUND.add(seen)
    return ok


def _run(raw: Any, compiled: tuple[str, ibis.Schema]) -> pa.Table:
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    sql, schema = compiled
    table: pa.Table = DuckDBPyArrowData.convert_table(raw.sql(sql).to_arrow_table(), schema)
    return table


UNJUDGED = (
    "source",
    "source_file",
    "source_offset",
    "record_id",
    "record_key",
    "event_code",
    "domain",
    "duration_s",
    "src_port",
    "bytes_in",
    "dst_country",
    "dst_timezone",
)
"""Columns no detector reads, left out of ``day_events``: the day sits in DuckDB's memory
beside every query's working set, under one memory limit (at 29,000 terminals a day and its
context day took 1.7 of its 2 GB, and the heaviest queries spilled). Provenance (the file and
record an event came from) is looked up in the store by event id when a finding is shown."""


class _DayReader:
    """One day's enriched events as the temp table ``day_events``, and the day's start in
    ``fold_day``: the same names every day, so detectors' SQL is compiled once.

    Endpoints are resolved against the inventory as they first appear (``fold_endpoints``
    grows), not all at once: a run over one new day resolves that day's new hosts only."""

    def __init__(
        self,
        raw: Any,
        con: Any,
        layout: StoreLayout,
        inventory: Inventory | None,
        execute: Callable[[ibis.Expr], pa.Table],
    ) -> None:
        self.raw, self.con, self.layout, self.inventory = raw, con, layout, inventory
        self.execute = execute
        self.resolver = Resolver(inventory) if inventory is not None else None
        self.known: set[tuple[str | None, str | None]] = set()
        self.sql: str | None = None
        raw.register("_access_event_schema", ACCESS_EVENT.empty_table())
        if self.resolver is not None:
            raw.register("_endpoint_schema", self.resolver.endpoints_table([]))
            raw.execute(
                "CREATE OR REPLACE TEMP TABLE fold_endpoints AS SELECT * FROM _endpoint_schema"
            )
            raw.unregister("_endpoint_schema")

    def load(
        self,
        day: str,
        files: Mapping[str, list[str]],
        data_start: datetime | None = None,
        *,
        enriched: bool = True,
    ) -> None:
        """Make ``day_raw`` the events of ``files`` and ``fold_day`` the judged slice's start
        (and the data's); with ``enriched``, ``day_events`` their enrichment too."""
        raw = self.raw
        paths = [
            str(self.layout.day_dir(d) / f.rsplit(":", 2)[0]) for d, fs in files.items() for f in fs
        ]
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        # every column of the schema, whatever the files hold (older stores lack some)
        raw.execute(
            "CREATE OR REPLACE TEMP VIEW day_raw AS SELECT * FROM _access_event_schema "
            "UNION ALL BY NAME SELECT * EXCLUDE (day) FROM "
            f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
        )
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        raw.execute(
            "CREATE OR REPLACE TEMP TABLE fold_day AS "
            "SELECT ?::TIMESTAMPTZ AS start, ?::TIMESTAMPTZ AS data_start",
            [start, data_start],
        )
        if not enriched:
            return
        if self.resolver is not None:
            got = raw.execute(
                "SELECT src_host, src_ip FROM day_raw UNION SELECT dst_host, dst_ip FROM day_raw"
            ).fetchall()
            new = {(h, i) for h, i in got} - self.known
            if new:
                ep = self.resolver.endpoints_table(
                    sorted(new, key=lambda p: (p[0] or "", p[1] or ""))
                )
                raw.register("_new_endpoints", ep)
                raw.execute("INSERT INTO fold_endpoints SELECT * FROM _new_endpoints")
                raw.unregister("_new_endpoints")
                self.known |= new
        if self.sql is None:
            con = self.con
            endpoints = con.table("fold_endpoints") if self.resolver is not None else None
            enriched = enrich(con, con.table("day_raw"), self.inventory, self.execute, endpoints)
            con._run_pre_execute_hooks(enriched)  # registers the inventory's accounts table
            self.sql = str(con.compile(enriched))
        raw.execute(
            "CREATE OR REPLACE TEMP TABLE day_events AS "
            f"SELECT * EXCLUDE ({', '.join(UNJUDGED)}) FROM ({self.sql})"
        )

    def context(
        self,
        det: DetectorModule,
        params: Mapping[str, Any],
        data_start: datetime | None,
    ) -> DetectionContext:
        """The context a stateful detector's queries are built in (before the first day)."""
        con, spec = self.con, det.SPEC
        events = con.table("day_events")
        fold_day = con.table("fold_day")
        start = fold_day.start.as_scalar()
        # its own context days only, filtered even when they are all the run reads: the SQL
        # is then the same whichever detectors (and context) a store's kinds call for
        events = events.filter(events.ts >= start - ibis.interval(days=spec.context_days))
        return DetectionContext(
            events=events,
            inventory=self.inventory,
            params=params,
            execute=self.execute,
            data_start=data_start,
            data_start_at=fold_day.data_start.as_scalar(),
            state={t.name: con.table(state_name(spec.id, t)) for t in spec.state},
            slice_start=start,
        )

    def close(self) -> None:
        for stmt in (
            "DROP TABLE IF EXISTS day_events",
            "DROP TABLE IF EXISTS fold_day",
            "DROP TABLE IF EXISTS fold_endpoints",
            "DROP VIEW IF EXISTS day_raw",
        ):
            self.raw.execute(stmt)
        self.raw.unregister("_access_event_schema")


def rebuild(
    store: Any,
    inventory: Inventory | None,
    detectors: Sequence[DetectorModule],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[FoldRun]:
    """Fold every day again for ``detectors`` (stateful ones) from nothing: their state and
    per-day findings are rebuilt; the next ``detect`` merges them without judging a day."""
    from ashiato.store import Store

    st = store if isinstance(store, Store) else Store(store)
    chosen = [d for d in detectors if d.SPEC.stateful]
    reset(st.layout, [d.SPEC.id for d in chosen])
    raw = st.raw_connect()
    try:
        table = st.load_events(raw)
        starts = [lo for _, n, lo, _ in st.kind_counts(raw, table) if n and lo]
        con = st.connect(raw=raw)
        if inventory is None:
            chosen = [d for d in chosen if not d.SPEC.requires_inventory]

        def execute(expr: ibis.Expr) -> pa.Table:
            result: pa.Table = con.to_pyarrow(expr)
            return result

        return run_stateful(
            st.layout,
            con,
            chosen,
            inventory,
            params or {},
            min(starts, default=None),
            execute,
            progress,
        )
    finally:
        raw.close()


def run_day_step(
    layout: StoreLayout,
    con: Any,
    step_id: str,
    step_fingerprint: str,
    judge: Callable[[str], list[Finding]],
    data_start: datetime | None,
    execute: Callable[[ibis.Expr], pa.Table],
    progress: Callable[[str], None] | None = None,
) -> FoldRun:
    """Run a judge without state (the Sigma rules) over each changed day's raw events, as
    ``run_stateful`` runs a detector: ``judge(table)`` gets the FROM item of one day's events;
    its findings are kept per day and merged by finding id."""
    t0 = time.perf_counter()
    files = event_files_by_day(layout)
    ds = DetectorState(layout, step_id)
    start_iso = data_start.isoformat() if data_start is not None else None
    meta, why, first = _open(ds, step_fingerprint, start_iso, files, "rules or rule engine")
    todo: list[str] = []
    if first is not None:
        ds.drop_days_from(first, ())
        for d in [d for d in meta.days if d >= first]:
            del meta.days[d]
        todo = [d for d in files if d >= first]
    reader = _DayReader(con.con, con, layout, None, execute)
    try:
        for d in todo:
            if progress:
                progress(f"{step_id}: day {d}")
            reader.load(d, {d: files[d]}, data_start, enriched=False)
            try:
                found = judge("day_raw")
            except DetectError:
                raise
            except Exception as exc:
                if isinstance(exc, (KeyboardInterrupt, MemoryError)):
                    raise
                raise DetectError(f"{step_id} failed on {d}: {exc}") from exc
            if found:
                keys = pa.array([f.key for f in found], pa.string())
                ds.write(ds.part_file(d), findings_table(found).append_column("key", keys))
            meta.days[d] = files[d]
    finally:
        reader.close()
    if todo or why is not None:
        ds.write_meta(meta)
    parts = ds.read_parts()
    found = merge_findings(parts) if parts is not None else []
    return FoldRun(step_id, found, len(todo), meta.watermark, why, time.perf_counter() - t0)
