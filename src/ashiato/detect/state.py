"""Detection state: the summaries of the past that a detector judges new events against.

A detector's baseline is a fold over the past (first-seen pairs, last use, per-entity maxima).
Recomputing it from every raw event on every run makes each run cost the whole history; keeping
the fold in the store makes a run cost the new days. A detector declares its tables in
``SPEC.state`` (keys, and per value column how two partial rows combine: ``min``, ``max``,
``sum``, ``bool_or``, ``bit_or``, ``first:<col>`` / ``last:<col>`` for the value of the row
with the smallest / largest ``<col>``), and a ``fold(ctx)`` that summarises one day's events
into those tables. The runner (``ashiato.detect.fold``) keeps them here::

    STORE/state/<detector id>/
      meta.json                   fingerprint, data start, the event files each day folded
      snapshot/<table>.parquet    the state after the last folded day
      delta/<table>/<day>.parquet what each day added (late data rolls back to before its day)
      parts/<day>.parquet         the findings judged on each day, merged into the findings

The fingerprint (detector id and version, parameters, the state's declaration, the inventory)
says whether the stored state belongs to this run's detector: a changed detector rebuilds its
own state and no other.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.store.atomic import atomic_write_bytes, atomic_write_parquet
from ashiato.store.layout import StoreLayout

COMBINES = ("min", "max", "sum", "bool_or", "bit_or")
"""Plain combines; ``first:<col>`` and ``last:<col>`` take the value of the extreme row."""

FORMAT = 1
"""Bumped when what the state directory holds changes (every stored state is then rebuilt)."""


@dataclass(frozen=True)
class StateTable:
    """One summary a detector keeps between runs.

    ``keys`` and ``values`` map column names to Ibis type strings; ``combine`` says, per value
    column, how two rows of the same key (yesterday's state, today's delta) become one. The
    combine must be associative and commutative, so that folding day by day equals folding
    the days at once: that is what makes a batch run and thirty daily runs agree.
    """

    name: str
    keys: Mapping[str, str]
    values: Mapping[str, str]
    combine: Mapping[str, str]
    description: str
    keep_days: int | None = None
    """Rows whose ``keep_by`` time lies more than this many days before the judged day are
    dropped after each fold: a baseline of the last N days stays N days big, however long
    the history."""
    keep_by: str | None = None
    day_key: str | None = None
    """A key column holding the UTC day of the slice that made the row: rows of different
    slices never share a key, so the table is the union of its deltas. No snapshot of it is
    written (at 29,000 terminals the arrivals of hop_chain's last two weeks are 100 MB that
    every run rewrote): a run reads the deltas of the days that still have rows, and adds a
    slice's delta by appending it. ``run_stateful`` checks that a delta keeps to its slice."""

    def __post_init__(self) -> None:
        if set(self.values) != set(self.combine):
            raise ValueError(f"state {self.name}: every value column needs one combine")
        if (self.keep_days is None) != (self.keep_by is None) or (
            self.keep_by is not None and self.keep_by not in self.columns
        ):
            raise ValueError(f"state {self.name}: keep_days needs keep_by, one of its columns")
        if self.day_key is not None and self.day_key not in self.keys:
            raise ValueError(f"state {self.name}: day_key must be one of its keys")
        for col, how in self.combine.items():
            if how in COMBINES:
                continue
            kind, _, by = how.partition(":")
            if kind not in ("first", "last") or by not in {*self.values, *self.keys}:
                raise ValueError(f"state {self.name}: {col}: unknown combine {how!r}")

    @property
    def columns(self) -> dict[str, str]:
        return {**self.keys, **self.values}

    def combine_sql(self, source: str) -> str:
        """SQL that combines the rows of ``source`` (a subquery or table) per key."""
        from ibis.backends.sql.datatypes import DuckDBType

        keys = [sql_name(k) for k in self.keys]
        aggs = []
        for col, how in self.combine.items():
            c = sql_name(col)
            if how in COMBINES:
                agg = f"{how}({c})"
            else:  # the extreme row's value, null included (arg_min skips null values)
                kind, _, by = how.partition(":")
                fn = "arg_min_null" if kind == "first" else "arg_max_null"
                agg = f"{fn}({c}, {sql_name(by)})"
            # the declared type: DuckDB's sum of BIGINT is a HUGEINT, which a later union with
            # the declared delta would refuse
            aggs.append(
                f"CAST({agg} AS {DuckDBType.to_string(ibis.dtype(self.values[col]))}) AS {c}"
            )
        group = f" GROUP BY {', '.join(keys)}" if keys else ""
        return f"SELECT {', '.join([*keys, *aggs])} FROM {source}{group}"

    def describe(self) -> dict[str, Any]:
        return {
            "keys": dict(self.keys),
            "values": dict(self.values),
            "combine": dict(self.combine),
            "keep": [self.keep_days, self.keep_by],
        }

    def expire_sql(self, name: str) -> str | None:
        """SQL that drops ``name``'s rows too old to keep (before the day in ``fold_day``)."""
        if self.keep_days is None or self.keep_by is None:
            return None
        return (
            f"DELETE FROM {name} WHERE CAST({sql_name(self.keep_by)} AS TIMESTAMPTZ) < "
            f"(SELECT start FROM fold_day) - INTERVAL {int(self.keep_days)} DAY"
        )


def sql_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (column names are declared, not from logs)."""
    return '"' + name.replace('"', '""') + '"'


def fingerprint(
    detector_id: str,
    version: str,
    params: Mapping[str, Any],
    tables: Sequence[StateTable],
    inventory_json: str,
) -> str:
    """What the stored state must have been built with to be reused."""
    material = [
        FORMAT,
        detector_id,
        version,
        sorted((k, repr(v)) for k, v in params.items()),
        [(t.name, t.describe()) for t in tables],
        hashlib.sha256(inventory_json.encode()).hexdigest(),
    ]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:24]


@dataclass
class Meta:
    """What a detector's state holds: built for which fingerprint, from which files per day."""

    fingerprint: str
    data_start: str | None = None  # ISO time of the first event when the state was begun
    days: dict[str, list[str]] = field(default_factory=dict)  # day -> event files folded
    slices: dict[str, str] = field(default_factory=dict)
    """The slices the days were judged in (first day -> last day): a slice's state change is
    one delta, so a changed day is judged again from the start of the slice that holds it."""
    live: dict[str, str] = field(default_factory=dict)
    """Per table with a ``day_key``: the first day that still had rows after the last run (its
    deltas from that day on are the table)."""

    def rollback_day(self, changed: str) -> str:
        """The day to judge again from when ``changed`` changed: the start of its slice."""
        held = [a for a, b in self.slices.items() if a <= changed <= b]
        return min(held) if held else changed

    @property
    def watermark(self) -> str | None:
        """The last day folded in (``YYYY-MM-DD``)."""
        return max(self.days) if self.days else None


class DetectorState:
    """One detector's state directory (see the module docstring)."""

    def __init__(self, layout: StoreLayout, detector_id: str) -> None:
        self.layout = layout
        self.detector_id = detector_id
        self.root = layout.root / "state" / detector_id

    def meta(self) -> Meta | None:
        try:
            raw = json.loads((self.root / "meta.json").read_text(encoding="utf-8"))
            return Meta(
                raw["fingerprint"],
                raw.get("data_start"),
                dict(raw.get("days") or {}),
                dict(raw.get("slices") or {}),
                dict(raw.get("live") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write_meta(self, meta: Meta) -> None:
        body = json.dumps(
            {
                "fingerprint": meta.fingerprint,
                "data_start": meta.data_start,
                "days": meta.days,
                "slices": meta.slices,
                "live": meta.live,
            },
            indent=1,
            sort_keys=True,
        )
        atomic_write_bytes(self.root / "meta.json", body.encode(), self.layout.tmp_dir)

    def reset(self) -> None:
        """Forget everything (a rebuild, or a state built for another fingerprint)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def snapshot_file(self, table: str) -> Path:
        return self.root / "snapshot" / f"{table}.parquet"

    def delta_file(self, table: str, day: str) -> Path:
        return self.root / "delta" / table / f"{day}.parquet"

    def delta_files(self, table: str, before: str | None = None) -> list[Path]:
        """The deltas of ``table``, of days before ``before`` when given, in day order."""
        files = sorted((self.root / "delta" / table).glob("*.parquet"))
        return [f for f in files if before is None or f.stem < before]

    def part_file(self, day: str) -> Path:
        return self.root / "parts" / f"{day}.parquet"

    def part_files(self) -> list[Path]:
        return sorted((self.root / "parts").glob("*.parquet"))

    def live_deltas(self, table: str, meta: Meta) -> list[Path] | None:
        """A day-keyed table's deltas of slices that reach its first live day (``Meta.live``);
        None when the state does not say (written before tables had day keys)."""
        since = meta.live.get(table)
        if since is None:
            return None
        return [f for f in self.delta_files(table) if meta.slices.get(f.stem, f.stem) >= since]

    def write(self, dest: Path, table: pa.Table) -> None:
        atomic_write_parquet(dest, table, self.layout.tmp_dir, sync=False)

    def drop_days_from(self, day: str, tables: Sequence[StateTable]) -> None:
        """Remove the deltas and parts of ``day`` and later (they are judged again)."""
        for t in tables:
            for f in self.delta_files(t.name):
                if f.stem >= day:
                    f.unlink()
        for f in self.part_files():
            if f.stem >= day:
                f.unlink()

    def size_bytes(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def read_parts(self) -> pa.Table | None:
        files = self.part_files()
        if not files:
            return None
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


@dataclass(frozen=True)
class StateSummary:
    """What ``ashiato state show`` prints for one detector's state."""

    detector: str
    fingerprint: str | None
    watermark: str | None
    days: int
    tables: dict[str, int]  # table -> rows in the snapshot
    parts: int  # days with findings
    bytes: int


def summaries(layout: StoreLayout) -> list[StateSummary]:
    """Every detector state in the store (stale fingerprints included: the next run rebuilds)."""
    out = []
    root = layout.root / "state"
    for d in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        if d.name.startswith("_"):  # the runner's own records (``settled``)
            continue
        ds = DetectorState(layout, d.name)
        meta = ds.meta()
        tables = {
            f.stem: pq.ParquetFile(f).metadata.num_rows
            for f in sorted((d / "snapshot").glob("*.parquet"))
        }
        out.append(
            StateSummary(
                d.name,
                meta.fingerprint if meta else None,
                meta.watermark if meta else None,
                len(meta.days) if meta else 0,
                tables,
                len(ds.part_files()),
                ds.size_bytes(),
            )
        )
    return out


def reset(layout: StoreLayout, detector_ids: Sequence[str] | None = None) -> list[str]:
    """Remove the state of ``detector_ids`` (every detector's when None); return whose went."""
    root = layout.root / "state"
    gone = []
    for d in sorted(p for p in root.glob("*") if p.is_dir()) if root.is_dir() else []:
        if detector_ids is None or d.name in detector_ids:
            DetectorState(layout, d.name).reset()
            gone.append(d.name)
    return gone
