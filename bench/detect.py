"""Benchmark the whole detector set over a large store: time, peak memory, events/s per core.

The large store is a real simulated estate (every attack scenario, with its inventory): its
first 28 days repeated ``--copies`` times, each copy 28 days later (whole weeks, ``PERIOD``),
written by DuckDB in the store's layout (``events/day=*/``): years of the same enterprise, so
that every detector sees the same shapes at the stated size. Measured in fresh processes (VmHWM
is each one's peak):

* baseline: a plain DuckDB ``SELECT kind, count(*) ... GROUP BY kind`` scan of the same store
  (two threads) — the cost of touching every event once;
* ``ashiato.detect`` with every registered detector and the inventory (two threads).

Usage: ``.venv/bin/python bench/detect.py --source STORE --inventory INV --copies 46 [--out DIR]``
(``--built DIR`` reuses a large store built before, e.g. by ``BUILD`` below) (about 2.17 M
events per 28-day copy of the 1,500-terminal estate: 46 copies is 100 M events). Without
``--source`` it simulates and ingests a 1,500 × 30 estate first.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import yaml

PERIOD = 28
"""Days per copy: whole weeks, so each copy's Mondays are Mondays. Copies 30 days apart put a
weekday's work on weekends (off-hours findings by the ten thousand at 29,000 terminals); the
source's days after its 28th are left out."""

BUILD = r"""
import json, sys, duckdb
src, dst, copies, PERIOD = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET threads=2")
con.execute("SET preserve_insertion_order=false")
con.execute("SET enable_progress_bar=false")
con.execute(f"SET temp_directory='{dst}/spill'")
src_glob = f"read_parquet('{src}/events/day=*/*.parquet', hive_partitioning=false)"
cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src_glob}").fetchall()]
first = con.execute(f"SELECT date_trunc('day', min(ts)) FROM {src_glob}").fetchall()[0][0]
n = 0
for k in range(copies):  # one copy at a time: 28 new day partitions each, bounded spill
    sel = ", ".join(
        f"ts + to_days({PERIOD * k}) AS ts" if c == "ts" else
        f"event_id || '~{k}' AS event_id" if c == "event_id" else c
        for c in cols
    )
    day = f"strftime(ts + to_days({PERIOD * k}), '%Y-%m-%d') AS day"
    keep = f"WHERE ts < TIMESTAMPTZ '{first.isoformat()}' + to_days({PERIOD})"
    n += con.execute(
        f"COPY (SELECT {sel}, {day} FROM {src_glob} {keep}) TO '{dst}/events' "
        f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), "
        f"FILENAME_PATTERN 'copy{k}_{{i}}', OVERWRITE_OR_IGNORE true)"
    ).fetchall()[0][0]
print(json.dumps({"events": n}))
"""

BASELINE = r"""
import json, re, sys, time, duckdb
store = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET threads=2")
t = time.perf_counter()
rows = con.execute(
    f"SELECT kind, count(*) FROM read_parquet('{store}/events/day=*/*.parquet') GROUP BY kind"
).fetchall()
wall = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"events": sum(r[1] for r in rows), "wall_s": wall, "peak_rss_mib": hwm / 1024}))
"""

DETECT = r"""
import json, re, sys, time
import ashiato
store, inv = json.loads(sys.argv[1])
t = time.perf_counter()
r = ashiato.detect(store, ashiato.load_inventory(inv))
wall = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
runs = {x.detector: round(x.seconds, 1) for x in r.runs}
print(json.dumps({"events": r.events_scanned, "wall_s": wall, "peak_rss_mib": hwm / 1024,
                  "findings": r.findings.num_rows, "incidents": r.incidents.num_rows,
                  "per_detector_s": runs}))
"""


def copies_calendar(inv: Path, first: date, copies: int, out: Path) -> Path:
    """``inv`` copied to ``out`` with a ``holidays.yaml`` that gives each copy its source's
    calendar: a copied day is a holiday at a site exactly when its source day was. Without it
    the copies' workdays land on October's and November's public holidays, and the whole
    estate "works" on them (25,345 off-hours findings at 29,000 terminals)."""
    from ashiato.inventory import load_inventory
    from ashiato.inventory.calendar import site_holidays

    shutil.copytree(inv, out)
    days = [first + timedelta(days=i) for i in range(PERIOD * copies)]
    cal = site_holidays(load_inventory(inv), {d.year for d in days})
    entries = []
    for site, hol in cal.items():
        for d in days[PERIOD:]:
            src = first + timedelta(days=(d - first).days % PERIOD)
            if (d in hol) != (src in hol):
                entries.append(
                    {
                        "site": site,
                        "date": d.isoformat(),
                        "name": hol.get(src, ""),
                        "observed": src in hol,
                    }
                )
    (out / "holidays.yaml").write_text(yaml.safe_dump({"holidays": entries}, sort_keys=False))
    return out


def first_day(store: Path) -> date:
    """The first day partition of an ingested store (BUILD's copies start there)."""
    return min(date.fromisoformat(d.name[4:]) for d in (store / "events").glob("day=*"))


def _run(script: str, arg: object) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(arg)], check=False, capture_output=True, text=True
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _source(tmp: Path) -> tuple[Path, Path]:
    import ashiato

    sim = tmp / "sim"
    ashiato.simulate(sim, terminals=1500, days=30, seed=21, scenarios=["all"])
    ashiato.ingest([sim / "logs"], tmp / "src-store", workers=2)
    return tmp / "src-store", sim / "inventory"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", type=Path, help="an ingested store to repeat")
    ap.add_argument("--inventory", type=Path, help="its inventory directory")
    ap.add_argument("--copies", type=int, default=46)
    ap.add_argument("--out", type=Path, help="where to build the large store (default: temp)")
    ap.add_argument(
        "--built", type=Path, help="a large store built before (by this script): skip the build"
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=a.out) as tmp_name:
        tmp = Path(tmp_name)
        src, inv = (a.source, a.inventory) if a.source else _source(tmp)
        if a.built:
            big, built = a.built, {"events": "reused"}
        else:
            big = tmp / "big"
            (big / "events").mkdir(parents=True)
            built = _run(BUILD, [str(src), str(big), a.copies, PERIOD])
        base = _run(BASELINE, str(big))
        inv = copies_calendar(inv, first_day(src), a.copies, tmp / "inventory")
        det = _run(DETECT, [str(big), str(inv)])
    n = int(det["events"])  # type: ignore[call-overload]
    per_core = n / float(det["wall_s"]) / 2  # type: ignore[arg-type]
    print(json.dumps({"built": built, "baseline": base, "detect": det}, indent=1))
    print("| run | events | wall s | events/s per core | peak RSS MiB |")
    print("|---|---|---|---|---|")
    b_rate = int(base["events"]) / float(base["wall_s"]) / 2  # type: ignore[call-overload,arg-type]
    print(
        f"| DuckDB count group by kind | {base['events']:,} | {float(base['wall_s']):.1f} | "  # type: ignore[arg-type]
        f"{b_rate:,.0f} | {float(base['peak_rss_mib']):.0f} |"  # type: ignore[arg-type]
    )
    print(
        f"| ashiato detect (all detectors) | {n:,} | {float(det['wall_s']):.1f} | "  # type: ignore[arg-type]
        f"{per_core:,.0f} | {float(det['peak_rss_mib']):.0f} |"  # type: ignore[arg-type]
    )
    print(f"ratio detect/baseline wall: {float(det['wall_s']) / float(base['wall_s']):.1f}x")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
