"""Benchmark the demo pipeline stage by stage: simulate, ingest, detect, evaluate.

Each stage runs in its own process so that its peak RSS (VmHWM) is its own. Baselines measured in
the same run: DuckDB's own ``read_json`` + Parquet write of the same Windows JSON lines and
``read_csv`` of the same Zeek files (what a bare engine does with these bytes, without
normalising, accounting for every record or keeping chain of custody).

Usage: ``.venv/bin/python bench/pipeline.py --terminals 1500 --days 30 [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = r"""
import json, re, sys, time
import ashiato
stage, args = sys.argv[1], json.loads(sys.argv[2])
t = time.perf_counter()
if stage == "simulate":
    s = ashiato.simulate(args["sim"], terminals=args["terminals"], days=args["days"], seed=7)
    info = {"records": s.windows_events + s.zeek_records}
elif stage == "ingest":
    r = ashiato.ingest([args["sim"] + "/logs"], args["store"], workers=2)
    info = {"records": r.records_read, "rejected": r.records_rejected}
elif stage == "detect":
    r = ashiato.detect(args["store"], ashiato.load_inventory(args["sim"] + "/inventory"))
    info = {"records": r.events_scanned, "findings": r.findings.num_rows,
            "incidents": r.incidents.num_rows}
elif stage == "evaluate":
    e = ashiato.evaluate(args["store"], args["sim"] + "/ground_truth.jsonl")
    info = {"detected": e.campaigns[0].detected, "false_incidents_per_day":
            e.false_incidents_per_day, "event_precision": e.event_precision,
            "event_recall": e.event_recall}
elif stage == "duckdb_baseline":
    import duckdb
    con = duckdb.connect()
    con.execute("SET threads=2")
    win = f"read_json('{args['sim']}/logs/windows/*.jsonl', format='newline_delimited')"
    zeek = f"read_csv('{args['sim']}/logs/zeek/*.log', delim='\t', comment='#', header=false)"
    n = con.execute(f"COPY (SELECT * FROM {win}) TO '{args['tmp']}/w.parquet'").fetchall()[0][0]
    m = con.execute(f"COPY (SELECT * FROM {zeek}) TO '{args['tmp']}/z.parquet'").fetchall()[0][0]
    info = {"records": n + m}
wall = time.perf_counter() - t
import resource
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # worker processes, if any
out = {"stage": stage, "wall_s": round(wall, 2), "peak_rss_mib": round(hwm / 1024)}
print(json.dumps({**out, "worker_peak_rss_mib": round(kids / 1024), **info}))
"""


def run(stage: str, args: dict[str, object]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", STAGE, stage, json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, default=1500)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = a.out or Path(tmp)
        args = {
            "sim": str(root / "sim"),
            "store": str(root / "store"),
            "tmp": tmp,
            "terminals": a.terminals,
            "days": a.days,
        }
        began = time.perf_counter()
        rows = [run(s, args) for s in ("simulate", "ingest", "detect", "evaluate")]
        total = time.perf_counter() - began
        base = run("duckdb_baseline", args)
        ingest = rows[1]
        for r in rows:
            print(json.dumps(r))
        print(json.dumps(base))
        print(
            json.dumps(
                {
                    "pipeline_wall_s": round(total, 1),
                    "ingest_vs_duckdb_wall": round(
                        float(ingest["wall_s"]) / float(base["wall_s"]),  # type: ignore[arg-type]
                        2,
                    ),
                    # parent plus both workers at their peaks: an upper bound of the sum
                    "ingest_vs_duckdb_rss": round(
                        (float(ingest["peak_rss_mib"]) + 2 * float(ingest["worker_peak_rss_mib"]))  # type: ignore[arg-type]
                        / float(base["peak_rss_mib"]),  # type: ignore[arg-type]
                        2,
                    ),
                }
            )
        )


if __name__ == "__main__":
    main()
