"""Run the registered detectors over a store and write findings and incidents back to it.

The runner owns what detectors must not: the engine connection, the clock-free time window (the
data's own start), persistence, skipping detectors whose inputs are missing, and grouping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from ashiato.detect import suppress
from ashiato.detect.common import CREDENTIAL_KINDS
from ashiato.detect.enrich import enrich
from ashiato.detect.entity_risk import entity_risk_table
from ashiato.detect.fold import run_day_step, run_stateful
from ashiato.detect.follow import follow_credentials, name_ticket_servers
from ashiato.detect.incidents import incidents_table
from ashiato.detect.infer import infer_inventory
from ashiato.detect.kinds import kind_counts
from ashiato.detect.links import LinkCache, LinkStep
from ashiato.detect.registry import DETECTORS
from ashiato.detect.sessions import (
    add_logon_tickets,
    add_originating_logons,
    add_session_events,
)
from ashiato.detect.settled import Settled
from ashiato.detect.spec import (
    DetectionContext,
    DetectorModule,
    Finding,
    empty_table,
    findings_table,
)
from ashiato.detect.sqlcache import SqlCache, cache_root
from ashiato.errors import DetectError
from ashiato.events import ENTITY_RISK, INCIDENT, EventKind
from ashiato.inventory.model import Inventory
from ashiato.inventory.resolve import Resolver
from ashiato.store import Store

MATERIALIZE_MAX_EVENTS = 10_000_000
"""Up to this many events the enriched rows are a temp table; above, a view (see detect)."""


@dataclass(frozen=True)
class DetectorRun:
    detector: str
    status: str  # "ran" | "skipped: <why>"
    findings: int
    seconds: float
    detail: str = ""  # a stateful detector's days judged and state (``fold``)


@dataclass(frozen=True)
class DetectReport:
    """What a detect run did: per-detector status, findings and the ranked incidents."""

    runs: tuple[DetectorRun, ...]
    findings: pa.Table
    incidents: pa.Table
    events_scanned: int
    seconds: float
    notices: tuple[str, ...] = field(default=())
    suppressed: int = 0  # findings dropped by analyst suppressions (see ``suppress``)
    new_findings: pa.Table | None = None
    """With ``since``: the findings that are new or changed and reach past ``since``."""


@dataclass(frozen=True)
class KindStats:
    """How many events of one kind the store holds, and when they start and end."""

    n: int
    start: datetime | None
    end: datetime | None


def _kinds_present(
    counts: Sequence[tuple[str, int, datetime | None, datetime | None]],
) -> dict[EventKind, KindStats]:
    """The event kinds a store holds (``Store.kind_counts``), with their spans: what can run."""
    known = {k.value: k for k in EventKind}
    return {
        known[kind]: KindStats(n, start, end)
        for kind, n, start, end in counts
        if kind in known and n
    }


def _no_events(kinds: Sequence[EventKind]) -> str:
    names = [k.value for k in kinds]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"no {listed} events in the store"


class _Engine:
    """The store's events in DuckDB, the Ibis connection over them and the enriched events,
    each made on first use.

    The events are read once (``Store.load_events``: into memory for a small store) and every
    step after, the kind counts first, reads them from there. A run whose detectors all lack
    events (a triage store of a few account changes) never loads Ibis nor compiles a query.
    """

    def __init__(self, st: Store) -> None:
        self._st = st
        self._raw: Any = None
        self._table = ""
        self._con: Any = None
        self._events: ibis.Table | None = None
        self._enriched: ibis.Table | None = None
        self._counts: list[tuple[str, int, datetime | None, datetime | None]] | None = None
        self.executed = 0  # queries run through ``execute`` (a detector that reads data to build)

    @property
    def raw(self) -> Any:
        """The plain DuckDB connection; ``table`` names the events in it."""
        if self._raw is None:
            self._raw = self._st.raw_connect()
            self._table = self._st.load_events(self._raw)
        return self._raw

    @property
    def table(self) -> str:
        _ = self.raw
        return self._table

    def kind_counts(self) -> list[tuple[str, int, datetime | None, datetime | None]]:
        """``Store.kind_counts``, kept per day (``kinds``; an empty store loads nothing)."""
        if self._counts is None:
            has = self._st.has_events()
            self._counts = kind_counts(self._st.layout, self.raw) if has else []
        return self._counts

    @property
    def con(self) -> Any:
        if self._con is None:
            self._con = self._st.connect(raw=self.raw)
        return self._con

    def execute(self, expr: ibis.Expr) -> pa.Table:
        self.executed += 1
        result: pa.Table = self.con.to_pyarrow(expr)
        return result

    def compile(self, expr: ibis.Table) -> str:
        """``expr``'s SQL, its in-memory tables registered (what ``to_pyarrow`` does first)."""
        self.con._run_pre_execute_hooks(expr)
        return str(self.con.compile(expr.as_table()))

    def run_sql(self, sql: str, schema: ibis.Schema) -> pa.Table:
        """The result of ``sql`` as ``to_pyarrow`` gives it for an expression of ``schema``."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        table: pa.Table = DuckDBPyArrowData.convert_table(
            self.raw.sql(sql).to_arrow_table(), schema
        )
        return table

    @property
    def events(self) -> ibis.Table:
        if self._events is None:
            self._events = self.con.table(self.table)
        return self._events

    def enriched(self, inventory: Inventory | None, *, materialize: bool = True) -> ibis.Table:
        """The events joined with the inventory (the first call's inventory and ``materialize``:
        one per run).

        ``materialize``: a temp table for the detectors, which all read it; a view does for the
        post-steps' few narrow queries when no detector ran (a Sigma-only sweep)."""
        if self._enriched is None:
            con = self.con
            enriched = enrich(con, self.events, inventory, self.execute)
            # Every detector reads the joined events. Materialised once when they fit in memory
            # (a third faster on the demo); beyond that a temp table spills all columns to disk
            # and each detector rereads the spill, so a view that reads only the needed Parquet
            # columns wins (44.6 M events: 8.1 min as a view against 12.6 min materialised).
            n_events = sum(n for _, n, _, _ in self.kind_counts())
            if materialize and n_events <= MATERIALIZE_MAX_EVENTS:
                self._enriched = con.create_table("enriched_events", enriched, temp=True)
            else:
                self._enriched = con.create_view("enriched_events", enriched, overwrite=True)
        return self._enriched

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


def detect(
    store: str | Path | Store,
    inventory: Inventory | None,
    *,
    detectors: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    gap_days: float = 7.0,
    progress: Callable[[str], None] | None = None,
    infer_sites: bool = False,
    since: datetime | None = None,
    rules: Sequence[Path] | None = None,
    rule_select: Callable[[Any], Any] | None = None,
) -> DetectReport:
    """Run detectors over every event in ``store``; replace its findings and incidents.

    Without an inventory, detectors that need one are skipped with a notice; ``infer_sites``
    then builds a site map from the events' subnets (see ``infer``) so that site-aware ones run.

    ``since`` (the continuous mode, run after each ingest of new logs): the new data is judged
    against everything already in the store (the baselines are the stored history), the stored
    findings are brought up to date exactly as a full run would leave them, and
    ``new_findings`` lists what an analyst has not seen yet: findings that reach past ``since``
    and were not in the store before, or were there with other evidence.

    ``detectors``: ids to run; None runs every registered detector, an empty sequence none
    (``detectors=[], rules=[...]`` runs Sigma rules alone).

    ``rules``: Sigma rule files or directories, run alongside the detectors (``ashiato.sigma``);
    rules that cannot be loaded or compiled are reported as notices. ``rule_select`` narrows
    the compiled rule set (``ashiato.sigma.step.run_rule_paths``' ``select``).
    """
    started = time.perf_counter()
    st = store if isinstance(store, Store) else Store(store)
    chosen: list[DetectorModule] = list(DETECTORS)
    if detectors is not None:  # an empty list runs no detector (Sigma rules only)
        known = {d.SPEC.id: d for d in DETECTORS}
        unknown = [d for d in detectors if d not in known]
        if unknown:
            raise DetectError(f"unknown detector(s) {unknown}; known: {sorted(known)}")
        chosen = [known[d] for d in detectors]
    params = params or {}
    before = _fingerprints(st.read_findings()) if since is not None else {}
    engine = _Engine(st)
    counts = engine.kind_counts()
    present = _kinds_present(counts)
    n_events = sum(n for _, n, _, _ in counts)  # kinds this version does not know included
    data_start = min((lo for _, _, lo, _ in counts if lo), default=None)
    data_end = max((hi for _, _, _, hi in counts if hi), default=None)
    notices: list[str] = []
    runs: list[DetectorRun] = []
    runnable: list[DetectorModule] = []
    for det in chosen:
        spec = det.SPEC
        merged = {**spec.defaults(), **params.get(spec.id, {})}
        unknown_params = set(merged) - set(spec.defaults())
        if unknown_params:
            raise DetectError(f"{spec.id}: unknown parameter(s) {sorted(unknown_params)}")
        if set(spec.needs) & present.keys():
            runnable.append(det)
        else:
            runs.append(DetectorRun(spec.id, f"skipped: {_no_events(spec.needs)}", 0, 0.0))
    execute = engine.execute
    if inventory is None and infer_sites and runnable:
        inventory = infer_inventory(engine.events, execute)
        notices.append(
            f"no inventory: inferred {len(inventory.sites)} site(s) from /16 subnets; "
            "no assets, accounts or policy are known"
        )
    findings: list[Finding] = []
    stateful: list[DetectorModule] = []
    sql_cache = SqlCache(cache_root() if runnable else None, inventory)
    for det in runnable:
        spec = det.SPEC
        t0 = time.perf_counter()
        if spec.requires_inventory and inventory is None:
            msg = "skipped: needs an inventory (--inventory DIR)"
            notices.append(f"{spec.id} {msg}")
            runs.append(DetectorRun(spec.id, msg, 0, 0.0))
            continue
        if spec.stateful:  # judged day by day against its state, below
            stateful.append(det)
            continue
        if progress:
            progress(spec.id)
        ctx = DetectionContext(
            events=engine.enriched(inventory),
            inventory=inventory,
            params={**spec.defaults(), **params.get(spec.id, {})},
            execute=execute,
            data_start=data_start,
        )
        try:
            rows = _query(engine, det, ctx, sql_cache).to_pylist()
        except Exception as exc:  # the engine's error, named after the detector that met it
            if isinstance(exc, (KeyboardInterrupt, MemoryError)):
                raise
            raise DetectError(f"detector {spec.id} failed: {exc}") from exc
        found = [det.explain(r, ctx) for r in rows]
        findings.extend(found)
        runs.append(DetectorRun(spec.id, "ran", len(found), time.perf_counter() - t0))
    if stateful:
        folded = run_stateful(
            st.layout, engine.con, stateful, inventory, params, data_start, execute, progress
        )
        for fr in folded:
            findings.extend(fr.findings)
            detail = f"{fr.days_judged} day(s) judged against its state (to {fr.watermark})"
            if fr.rebuilt:
                detail += f"; state begun afresh: {fr.rebuilt}"
            runs.append(DetectorRun(fr.detector, "ran", len(fr.findings), fr.seconds, detail))
    order = {d.SPEC.id: i for i, d in enumerate(chosen)}
    runs.sort(key=lambda r: order[r.detector])
    if rules:
        from ashiato.sigma.standing import collapse_standing
        from ashiato.sigma.step import RulePlan

        t0 = time.perf_counter()
        if progress:
            progress("sigma")
        plan = RulePlan.load(rules, select=rule_select)
        found = []
        if n_events > 0:  # each changed day's events, against the rules (``fold``)
            raw = engine.con.con
            day_run = run_day_step(
                st.layout,
                engine.con,
                "sigma",
                plan.fingerprint(),
                lambda table: plan.judge(raw, table),
                data_start,
                execute,
                progress,
            )
            found = day_run.findings
        status = plan.status()
        n_matched = len(found)
        found = collapse_standing(found, data_start)
        if len(found) < n_matched:
            status += (
                f"; {n_matched:,} finding(s), {len(found):,} after standing ones were collapsed "
                "(one rule, the same actors, day after day since the data began)"
            )
        findings.extend(found)
        notices.extend(plan.notices)
        detail = ""
        if n_events > 0:
            detail = f"{day_run.days_judged} day(s) judged (to {day_run.watermark})"
        runs.append(DetectorRun("sigma", status, len(found), time.perf_counter() - t0, detail))
    verdicts = suppress.load(st.layout)
    findings, hits = suppress.apply(findings, verdicts)
    n_suppressed = sum(hits.values())
    if n_suppressed:
        notices.append(f"{n_suppressed} finding(s) suppressed by {len(hits)} analyst verdict(s)")

    # Findings unchanged since the last run, ending before the changed days, keep their
    # additions from then (``settled``); only the others go through the steps.
    resolver = Resolver(inventory) if inventory is not None else None

    def asset_of(host: str | None, ip: str | None) -> str | None:
        return resolver.endpoint(host, ip).asset if resolver is not None else None

    settled = Settled(st.layout)
    pre = findings
    findings, kept = settled.split(findings)

    # Each step reads events of its own kinds (see the modules); with none in the store, or no
    # finding to extend, it has nothing to do. The session steps' answers are kept per cited
    # event (``links``): a run asks about new events only, reading the events near them.
    # Following a credential asks what it had not reached in the month before, so it reads
    # that month of the followed accounts only, and enriches just those rows.
    cache = LinkCache(st.layout, settled.changed_from, fresh=not settled.known)

    def links(step: LinkStep, cited: Iterable[str]) -> pa.Table:
        return cache.links(step, cited, engine.events, execute)

    if findings and present.keys() & set(CREDENTIAL_KINDS):

        def enriched(rows: ibis.Table) -> ibis.Table:
            return enrich(engine.con, rows, inventory, execute)

        findings = follow_credentials(findings, engine.events, enriched, execute)
    if findings and {EventKind.LOGON, EventKind.PRIVILEGE_GRANT} <= present.keys():
        findings = add_session_events(findings, links)
    if findings and {EventKind.LOGON, EventKind.EXPLICIT_CREDENTIALS} <= present.keys():
        findings = add_originating_logons(findings, links, name=asset_of)
    if findings and {EventKind.LOGON, EventKind.KERBEROS_SERVICE} <= present.keys():
        findings = add_logon_tickets(findings, links)
    if findings and present.keys() & {EventKind.KERBEROS_TGT, EventKind.KERBEROS_SERVICE}:
        findings = name_ticket_servers(findings, links)
    findings = [*findings, *kept]
    findings.sort(key=lambda f: (-f.score, f.first_seen, f.finding_id))
    ftable = findings_table(findings)
    if findings:
        itable = incidents_table(findings, gap_days=gap_days)
        risk = entity_risk_table(findings, data_end)
    else:  # the same empty tables, without building Python rows (see ``empty_table``)
        itable, risk = empty_table(INCIDENT), empty_table(ENTITY_RISK)
    st.write_findings(ftable)
    st.write_incidents(itable)
    st.write_entity_risk(risk)
    cache.save()  # before the record of event files it is valid for (``links``)
    settled.remember(pre)
    engine.close()
    new = None
    if since is not None:
        keep = [
            i
            for i, r in enumerate(_fingerprint_rows(ftable))
            if r[1] >= since and before.get(r[0]) != r[2]
        ]
        new = ftable.take(keep)
    return DetectReport(
        runs=tuple(runs),
        findings=ftable,
        incidents=itable,
        events_scanned=n_events,
        seconds=time.perf_counter() - started,
        notices=tuple(notices),
        suppressed=n_suppressed,
        new_findings=new,
    )


def _query(
    engine: _Engine, det: DetectorModule, ctx: DetectionContext, cache: SqlCache
) -> pa.Table:
    """The detector's candidate rows: its SQL from ``cache``, else built, compiled and kept."""
    key = cache.key(det.SPEC.id, det.SPEC.version, ctx)
    hit = cache.get(key)
    if hit is not None:
        try:
            return engine.run_sql(*hit)
        except Exception as exc:  # a damaged entry: built afresh below, and replaced
            if isinstance(exc, (KeyboardInterrupt, MemoryError)):
                raise
    executed = engine.executed
    expr = det.query(ctx)
    sql = engine.compile(expr)
    if engine.executed == executed:  # built without reading data: the same SQL next run
        cache.put(key, expr, sql)
    return engine.run_sql(sql, expr.schema())


def _fingerprint_rows(table: pa.Table) -> list[tuple[str, datetime, tuple[Any, ...]]]:
    """(finding id, last seen, what an analyst would see change) per finding row."""
    cols = table.select(
        ["finding_id", "last_seen", "first_seen", "score", "evidence_count", "evidence"]
    ).to_pylist()
    return [
        (
            r["finding_id"],
            r["last_seen"],
            (
                r["first_seen"],
                r["last_seen"],
                r["score"],
                r["evidence_count"],
                tuple(r["evidence"]),
            ),
        )
        for r in cols
    ]


def _fingerprints(table: pa.Table) -> dict[str, tuple[Any, ...]]:
    return {fid: fp for fid, _, fp in _fingerprint_rows(table)}
