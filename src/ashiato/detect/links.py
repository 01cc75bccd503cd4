"""What each cited event links to, kept between runs, so a run's post-steps read new days only.

The session steps (``sessions``, ``follow.name_ticket_servers``) add to a finding the events
its cited events belong with: a logon's privilege grant, the logon session behind a 4648, the
ticket a logon presented, the controller that issued a ticket. Each is a function of one cited
event and the events within hours of it, not of the finding. A finding that runs for months
(a cross-site policy break seen every day) cites events across all of them; asking again each
run for every one would read the history every run. So the answers are kept per cited event
(``STORE/state/_post/links/``): the event's time and kind, and each step's rows for it, with
an empty row for "nothing". A run asks only about events it has not asked about, reading the
events near them; answers about events within a day of a changed day (new, late or replaced
files: their neighbourhood changed) are dropped and asked again.

Where a cited event lies is not known before asking: its finding may span months. Events cited
for the first time come from the days this run judged, so they are looked for from a little
before the first changed day on (``LOOKBACK``); those not found there (a cache lost, an old
event newly cited) are looked for in the whole store, and the few never found are remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout

FORMAT = 1
"""Bumped when what a step links changes: the kept answers are then all asked again."""

LOOKBACK = timedelta(days=3)
"""How far before the first changed day newly cited events are first looked for: a detector
judging a day cites events of its context days (one) and a chain of hops reaches back hours."""

STALE = timedelta(days=1)
"""Answers about events this close before a changed day are asked again: a step looks seconds
after its event (a privilege grant) as well as hours before it."""

_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class LinkStep:
    """One step's question about a set of cited events.

    ``query(ids, events, execute)`` gives the step's rows for the cited events in ``ids``
    (column ``cid``), all of ``kinds``: ``cid`` and the step's own ``columns`` (the first never
    null), several rows per event or none. ``events`` are those from ``before`` the earliest of
    them to ``after`` the latest."""

    name: str
    kinds: tuple[str, ...]
    columns: dict[str, pa.DataType]
    before: timedelta
    after: timedelta
    query: Callable[[ibis.Table, ibis.Table, Callable[[ibis.Expr], pa.Table]], pa.Table]

    def schema(self) -> pa.Schema:
        return pa.schema([("cid", pa.string()), *self.columns.items()])


_SEEN = pa.schema([("cid", pa.string()), ("cts", _TS), ("kind", pa.string())])


class LinkCache:
    """The kept answers, less those about events near ``changed_from`` (None: all kept; the
    caller says ``fresh`` when nothing is known about what changed)."""

    def __init__(self, layout: StoreLayout, changed_from: datetime | None, fresh: bool) -> None:
        self.layout = layout
        self.root = layout.root / "state" / "_post" / f"links-v{FORMAT}"
        self.changed_from = changed_from
        self.fresh = fresh
        self.seen = self._read(self.root / "seen.parquet", _SEEN)
        self.rows: dict[str, pa.Table] = {}
        self.dirty = False

    def _read(self, path: Path, schema: pa.Schema) -> pa.Table:
        try:
            table = pq.read_table(path, schema=schema) if not self.fresh else None
        except (OSError, ValueError, pa.ArrowInvalid):
            table = None
        if table is None:
            return schema.empty_table()
        if self.changed_from is not None and "cts" in table.column_names:
            edge = pa.scalar(self.changed_from - STALE, _TS)
            cts = table["cts"]
            table = table.filter(pc.or_kleene(pc.is_null(cts), pc.less(cts, edge)))
        return table

    def _step_rows(self, step: LinkStep) -> pa.Table:
        """The step's kept rows (``cid``, ``cts``, its columns; null columns: nothing)."""
        if step.name not in self.rows:
            schema = step.schema().insert(1, pa.field("cts", _TS))
            self.rows[step.name] = self._read(self.root / f"{step.name}.parquet", schema)
        return self.rows[step.name]

    def locate(
        self,
        cited: Iterable[str],
        events: ibis.Table,
        execute: Callable[[ibis.Expr], pa.Table],
    ) -> None:
        """Learn the time and kind of cited events not asked about before."""
        known = set(self.seen["cid"].to_pylist())
        todo = sorted(set(cited) - known)
        if not todo:
            return
        found = self._find(todo, events, execute, self.changed_from)
        rest = sorted(set(todo) - set(found["cid"].to_pylist()))
        if rest and self.changed_from is not None:  # not near the changed days: anywhere
            found = pa.concat_tables([found, self._find(rest, events, execute, None)])
            rest = sorted(set(rest) - set(found["cid"].to_pylist()))
        missing = pa.table(
            {
                "cid": pa.array(rest, pa.string()),
                "cts": pa.nulls(len(rest), _TS),
                "kind": pa.nulls(len(rest), pa.string()),
            }
        )
        self.seen = pa.concat_tables([self.seen, found, missing])
        self.dirty = True

    def _find(
        self,
        ids: list[str],
        events: ibis.Table,
        execute: Callable[[ibis.Expr], pa.Table],
        since: datetime | None,
    ) -> pa.Table:
        t = ibis.memtable(pa.table({"cid": pa.array(ids, pa.string())}))
        e = events if since is None else events.filter(events.ts >= since - LOOKBACK)
        j = e.inner_join(t, e.event_id == t.cid).select(cid=e.event_id, cts=e.ts, kind=e.kind)
        got = execute(j.distinct())
        return got.select(["cid", "cts", "kind"]).cast(_SEEN)

    def links(
        self,
        step: LinkStep,
        cited: Iterable[str],
        events: ibis.Table,
        execute: Callable[[ibis.Expr], pa.Table],
    ) -> pa.Table:
        """The step's rows for ``cited`` (``cid`` and its columns), asking only what is new."""
        cited = set(cited)
        self.locate(cited, events, execute)
        have = self._step_rows(step)
        done = set(have["cid"].to_pylist())
        seen = self.seen.filter(pc.is_in(self.seen["kind"], pa.array(step.kinds, pa.string())))
        seen = seen.filter(pc.is_in(seen["cid"], pa.array(sorted(cited - done), pa.string())))
        if seen.num_rows:
            lo = pc.min(seen["cts"]).as_py() - step.before
            hi = pc.max(seen["cts"]).as_py() + step.after
            near = events.filter(events.ts >= lo, events.ts <= hi)
            ids = ibis.memtable(seen.select(["cid"]))
            got = step.query(ids, near, execute)
            got = got.select(list(step.schema().names)).cast(step.schema())
            times = dict(zip(seen["cid"].to_pylist(), seen["cts"].to_pylist(), strict=True))
            answered = set(got["cid"].to_pylist())
            empty = sorted(set(times) - answered)  # asked, and nothing links to them
            nothing = pa.table(
                {
                    "cid": pa.array(empty, pa.string()),
                    **{c: pa.nulls(len(empty), t) for c, t in step.columns.items()},
                },
                schema=step.schema(),
            )
            new = pa.concat_tables([got, nothing])
            cts = pa.array([times[c] for c in new["cid"].to_pylist()], _TS)
            have = pa.concat_tables([have, new.add_column(1, "cts", cts)])
            self.rows[step.name] = have
            self.dirty = True
        mine = have.filter(pc.is_in(have["cid"], pa.array(sorted(cited), pa.string())))
        first = step.schema().names[1]  # rows of "nothing" have every step column null
        return mine.filter(pc.is_valid(mine[first])).select(step.schema().names)

    def save(self) -> None:
        """Keep the answers (before the run's record of event files: see ``Settled``)."""
        if not self.dirty:
            return
        tmp = self.layout.tmp_dir
        atomic_write_parquet(self.root / "seen.parquet", self.seen, tmp, sync=False)
        for name, table in self.rows.items():
            atomic_write_parquet(self.root / f"{name}.parquet", table, tmp, sync=False)


Links = Callable[[LinkStep, Iterable[str]], pa.Table]
"""A step's rows for some cited events (``LinkCache.links`` with the run's events bound)."""
