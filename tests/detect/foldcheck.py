"""Check that a stateful detector judges the same whether the days come at once or one by one.

``runs`` writes the same events into three stores: all days at once (one batch run, in slices of
``SLICE_DAYS``: 7 by default), the days one by one (by default one run that judges each
day as its own slice, as a run after each day would; ``daily_runs=True``: a detect run after each
day), and one day held back and delivered late (a run after a later day, then a run with the held
day). The findings and incidents each leaves are compared on what an analyst sees: ids, times,
evidence, score, words. A run after each day costs a run's fixed cost per day, so only the tests
of the runs themselves (``test_fold``) and ``bench/equivalence.py`` (a whole estate) pay it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.detect import runner
from ashiato.events import ACCESS_EVENT
from ashiato.inventory import Inventory
from ashiato.store import StoreLayout

Rows = list[dict[str, Any]]


def numbered(rows: Rows) -> Rows:
    out = []
    for i, given in enumerate(rows):
        r = dict(given)
        if r.get("event_id") is None:
            r["event_id"] = f"e{i:06d}"
        r["source_offset"] = r.get("source_offset") or i + 1
        out.append(r)
    return out


def by_day(rows: Rows) -> dict[str, Rows]:
    days: dict[str, Rows] = defaultdict(list)
    for r in rows:
        days[r["ts"].strftime("%Y-%m-%d")].append(r)
    return dict(sorted(days.items()))


def add_day(root: Path, day: str, rows: Rows, name: str = "t-0") -> None:
    """Write one day's rows as one event file (as an ingest of one input would)."""
    layout = StoreLayout(root)
    layout.ensure()
    d = layout.day_dir(day)
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=ACCESS_EVENT), d / f"{name}.parquet")


def seen(rep: runner.DetectReport) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What an analyst sees of a run's findings and incidents, in a stable order."""
    f = [
        (
            r["finding_id"],
            r["first_seen"],
            r["last_seen"],
            r["evidence_count"],
            tuple(r["evidence"]),
            r["score"],
            r["reason"],
        )
        for r in rep.findings.to_pylist()
    ]
    i = [
        (r["incident_id"], r["first_seen"], r["last_seen"], tuple(sorted(r["finding_ids"])))
        for r in rep.incidents.to_pylist()
    ]
    return sorted(f), sorted(i)


SLICE_DAYS = int(os.environ.get("ASHIATO_FOLDCHECK_SLICE_DAYS", "7"))
"""The batch run's slices: the product's default, so a store of a few weeks crosses slices
(``ASHIATO_FOLDCHECK_SLICE_DAYS=2`` or ``366`` checks other slicings)."""


@contextmanager
def _slices(days: int) -> Iterator[None]:
    old = os.environ.get("ASHIATO_SLICE_DAYS")
    os.environ["ASHIATO_SLICE_DAYS"] = str(days)
    try:
        yield
    finally:
        if old is None:
            del os.environ["ASHIATO_SLICE_DAYS"]
        else:
            os.environ["ASHIATO_SLICE_DAYS"] = old


def runs(
    tmp: Path,
    rows: Rows,
    inventory: Inventory | None,
    detectors: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    late: tuple[str, str] | None = None,
    rules: Sequence[Path] | None = None,
    *,
    daily_runs: bool = False,
) -> dict[str, runner.DetectReport]:
    """Reports of the batch run, the days one by one and (``late``: (held day, delivered
    after day)) the last run of the late delivery (see the module)."""
    days = by_day(numbered(rows))
    kw: dict[str, Any] = {"detectors": list(detectors), "params": params, "rules": rules}
    out: dict[str, runner.DetectReport] = {}
    batch = tmp / "batch"
    for day, day_rows in days.items():
        add_day(batch, day, day_rows)
    with _slices(SLICE_DAYS):
        out["batch"] = runner.detect(batch, inventory, **kw)
    daily = tmp / "daily"
    for day, day_rows in days.items():
        add_day(daily, day, day_rows)
        if daily_runs:
            out["daily"] = runner.detect(daily, inventory, **kw)
    if not daily_runs:
        with _slices(1):
            out["daily"] = runner.detect(daily, inventory, **kw)
    if late is not None:
        held, after = late
        store = tmp / "late"
        for day, day_rows in days.items():
            if day != held:
                add_day(store, day, day_rows)
            if day == after:
                runner.detect(store, inventory, **kw)
                add_day(store, held, days[held])
            if daily_runs or day == list(days)[-1]:
                out["late"] = runner.detect(store, inventory, **kw)
    return out
