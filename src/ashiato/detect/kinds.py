"""Events per kind and day, kept between runs: a run counts only the days whose files changed.

Every ``detect`` first asks which event kinds the store holds, how many and over what span
(which detectors can run, the data's start). Asked of the whole store each run, that is a scan
of the history; kept per day with the day's event files (``STORE/state/_kinds/by_day.parquet``),
a run after a new day scans that day.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ashiato.detect.fold import event_files_by_day
from ashiato.store.atomic import atomic_write_parquet
from ashiato.store.layout import StoreLayout
from ashiato.store.tables import from_epoch_us

_SCHEMA = pa.schema(
    [
        ("day", pa.string()),
        ("files", pa.string()),  # the day's event files (name, size, time) when counted
        ("kind", pa.string()),
        ("n", pa.int64()),
        ("lo", pa.int64()),  # first and last event time, microseconds since the epoch
        ("hi", pa.int64()),
    ]
)


def kind_counts(
    layout: StoreLayout, raw: Any
) -> list[tuple[str, int, datetime | None, datetime | None]]:
    """(kind, events, first time, last time) per kind, as ``Store.kind_counts`` gives them."""
    path = layout.root / "state" / "_kinds" / "by_day.parquet"
    files = {d: json.dumps(v) for d, v in event_files_by_day(layout).items()}
    try:
        kept = pq.read_table(path, schema=_SCHEMA).to_pylist()
    except (OSError, ValueError, pa.ArrowInvalid):
        kept = []
    rows = [r for r in kept if files.get(r["day"]) == r["files"]]
    todo = sorted(set(files) - {r["day"] for r in rows})
    if todo:
        paths = [
            str(layout.day_dir(d) / f.rsplit(":", 2)[0]) for d in todo for f in json.loads(files[d])
        ]
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        got = raw.execute(
            "SELECT day, kind, count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM "
            f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true) "
            "GROUP BY day, kind"
        ).fetchall()
        new = [
            {"day": str(d), "files": files[str(d)], "kind": k, "n": n, "lo": lo, "hi": hi}
            for d, k, n, lo, hi in got
        ]
        empty = sorted(set(todo) - {r["day"] for r in new})  # files without events
        rows += new + [
            {"day": d, "files": files[d], "kind": None, "n": 0, "lo": None, "hi": None}
            for d in empty
        ]
        atomic_write_parquet(
            path, pa.Table.from_pylist(rows, schema=_SCHEMA), layout.tmp_dir, sync=False
        )
    by: dict[str, list[Any]] = {}
    for r in rows:
        if r["kind"] is None:
            continue
        b = by.setdefault(r["kind"], [0, None, None])
        b[0] += r["n"]
        b[1] = r["lo"] if b[1] is None or (r["lo"] is not None and r["lo"] < b[1]) else b[1]
        b[2] = r["hi"] if b[2] is None or (r["hi"] is not None and r["hi"] > b[2]) else b[2]
    return [(k, n, from_epoch_us(lo), from_epoch_us(hi)) for k, (n, lo, hi) in sorted(by.items())]
