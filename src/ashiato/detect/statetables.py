"""A detector's state tables in DuckDB during a fold: read from the state's files, a slice's
delta combined and added, written back (snapshots, or a day-keyed table's first live day).

``detect/state.py`` says what a state is and where its files lie; this module moves its rows
between those files and the engine's temporary tables (``fold.run_stateful`` calls it)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.detect.spec import DetectorSpec
from ashiato.detect.state import DetectorState, Meta, StateTable, sql_name
from ashiato.errors import DetectError


def state_name(detector: str, table: StateTable) -> str:
    """The temp table holding ``detector``'s state table: named by the detector, not by its
    place in the run, so its SQL is the same whichever detectors a store's kinds call for."""
    return "state_" + re.sub(r"[^0-9A-Za-z]", "_", detector) + "_" + table.name


def _schema(table: StateTable) -> ibis.Schema:
    return ibis.schema({n: ibis.dtype(t) for n, t in table.columns.items()})


def load(raw: Any, name: str, table: StateTable, files: list[str], *, combine: bool = True) -> None:
    """Make temp table ``name`` the combine of ``files`` (no files: empty, declared types);
    ``combine=False`` for a file with one row per key (a snapshot), read as it is."""
    cols = ", ".join(f'"{c}"' for c in table.columns)
    if files:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        src = f"(SELECT {cols} FROM read_parquet([{listed}], union_by_name = true))"
        body = table.combine_sql(src) if combine else f"SELECT * FROM {src}"
        raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {body}")
        return
    empty = _schema(table).to_pyarrow().empty_table()
    raw.register("_empty_state", empty)
    raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _empty_state")
    raw.unregister("_empty_state")


def combined(raw: Any, delta: pa.Table, table: StateTable) -> pa.Table:
    """A day's delta with one row per key, in the declared columns and types."""
    if not delta.num_rows:
        return _schema(table).to_pyarrow().empty_table()
    raw.register("_delta", delta)
    try:
        cols = ", ".join(f'"{c}"' for c in table.columns)
        out = raw.sql(table.combine_sql(f"(SELECT {cols} FROM _delta)")).to_arrow_table()
    finally:
        raw.unregister("_delta")
    return out.select(list(table.columns)).cast(_schema(table).to_pyarrow())


def state_sources(
    ds: DetectorState, meta: Meta, table: StateTable, first: str
) -> tuple[list[str], bool]:
    """The files ``table`` is read from before judging from ``first`` on, and whether they are
    combined (deltas) or hold one row per key already."""
    if meta.watermark is not None and first <= meta.watermark:
        # late or changed data: the state as it stood before that day (its deltas)
        return [str(f) for f in ds.delta_files(table.name, before=first)], True
    if table.day_key and (live := ds.live_deltas(table.name, meta)) is not None:
        return [str(f) for f in live], False
    snap = ds.snapshot_file(table.name)  # one row per key already
    return ([str(snap)] if snap.exists() else []), False


def load_state(raw: Any, spec: DetectorSpec, sources: Mapping[str, tuple[list[str], bool]]) -> None:
    for t in spec.state:
        files, combine = sources[t.name]
        load(raw, state_name(spec.id, t), t, files, combine=combine)


def save_state(raw: Any, spec: DetectorSpec, ds: DetectorState, meta: Meta) -> None:
    """Write the state's snapshots (a day-keyed table's first live day) and meta, and free
    its tables."""
    for t in spec.state:
        name = state_name(spec.id, t)
        if t.day_key:  # its deltas are the table: the first day with rows says which
            low = raw.sql(f"SELECT min({sql_name(t.day_key)}) FROM {name}").fetchall()
            meta.live[t.name] = _iso_day(low[0][0]) or max(meta.days, default="")
            ds.snapshot_file(t.name).unlink(missing_ok=True)
            continue
        ds.write(ds.snapshot_file(t.name), raw.sql(f"SELECT * FROM {name}").to_arrow_table())
    ds.write_meta(meta)
    for t in spec.state:
        raw.execute(f"DROP TABLE IF EXISTS {state_name(spec.id, t)}")


def _iso_day(value: Any) -> str | None:
    """A day key's value (a time or a date) as ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return str(value.isoformat())[:10]


def keeps_to(detector: str, table: StateTable, delta: pa.Table, chunk: Sequence[str]) -> None:
    """A day-keyed table's delta holds rows of its slice's days only (else appending it, and
    reading the table from its deltas, would be wrong): a detector's fault, raised."""
    if not table.day_key or not delta.num_rows:
        return
    lo, hi = pc.min_max(delta[table.day_key]).values()
    days = (_iso_day(lo.as_py()), _iso_day(hi.as_py()))
    if days[0] is None or days[1] is None or days[0] < chunk[0] or days[1] > chunk[-1]:
        raise DetectError(
            f"detector {detector}: state {table.name}'s {table.day_key} runs {days[0]} to "
            f"{days[1]}, outside the slice {chunk[0]} to {chunk[-1]}"
        )


def add(raw: Any, name: str, table: StateTable, delta: pa.Table) -> None:
    """Fold ``delta`` into the state table ``name``: the rows of the delta's keys are combined
    with it and replaced; the rest of the state is not rewritten, so a slice costs its delta
    and one probe of the state, not a regrouping of everything the history left in it. A
    day-keyed table's delta has keys of its own (``StateTable.day_key``): it is appended."""
    raw.register("_delta", delta)
    try:
        if table.day_key:
            raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _delta")
            return
        if not table.keys:  # one row: combine it with the delta
            src = f"(SELECT * FROM {name} UNION ALL BY NAME SELECT * FROM _delta)"
            raw.execute(f"CREATE OR REPLACE TEMP TABLE _next AS {table.combine_sql(src)}")
            raw.execute(f"DELETE FROM {name}")
        else:
            # keys may be null: a null key is one group, as GROUP BY makes it
            on = " AND ".join(
                f"s.{sql_name(k)} IS NOT DISTINCT FROM d.{sql_name(k)}" for k in table.keys
            )
            hit = f"SELECT s.* FROM {name} s SEMI JOIN _delta d ON {on}"
            src = f"({hit} UNION ALL BY NAME SELECT * FROM _delta)"
            raw.execute(f"CREATE OR REPLACE TEMP TABLE _next AS {table.combine_sql(src)}")
            raw.execute(f"DELETE FROM {name} s USING _delta d WHERE {on}")
        raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _next")
        raw.execute("DROP TABLE _next")
    finally:
        raw.unregister("_delta")
