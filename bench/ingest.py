"""Benchmark ingest: records/s per core and peak RSS per format, at two sizes (1x and 10x).

Each measurement runs ``ashiato.ingest(..., workers=1)`` in a fresh process (one core, so the rate
is per core; VmHWM is then the whole ingest's peak RSS). Baselines in the same run, on the same
LANL file: DuckDB ``read_csv`` counting the rows, and DuckDB ``read_csv`` written to Parquet, both
on one thread.

EVTX is a binary format written by Windows, so it has two inputs: every real ``.evtx`` file under
shared/data/real parsed ``--evtx-passes`` times in one process (small files: per-file costs
dominate), and one large file made of those files' Security chunks repeated (``gen.evtx_big``),
ingested end to end like the other formats (per-record cost, as on a real collection).

Usage: ``.venv/bin/python bench/ingest.py [--scale 1.0] [--json]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

REAL = HERE.parent.parent / "shared" / "data" / "real"

INGEST = r"""
import json, re, sys, time
from ashiato.ingest import ingest
paths, store, opts = json.loads(sys.argv[1])
t = time.perf_counter()
r = ingest(paths, store, workers=1, options=opts)
wall = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"records": r.records_read, "rejected": r.records_rejected, "wall_s": wall,
                  "peak_rss_mib": hwm / 1024}))
"""

EVTX = r"""
import json, re, sys, time
from datetime import UTC, datetime
from pathlib import Path
from ashiato.ingest.base import ParseContext
from ashiato.ingest.registry import get_parser
files, passes = json.loads(sys.argv[1])
p = get_parser("evtx")
ctx = ParseContext(sha256="0" * 64, path="bench", now=datetime.now(UTC))
n = 0
t = time.perf_counter()
for _ in range(passes):
    for f in files:
        with open(f, "rb") as fh:
            for b in p.parse(fh, ctx):
                n += b.batch.num_rows + len(b.rejections)
wall = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"records": n, "wall_s": wall, "peak_rss_mib": hwm / 1024}))
"""

DUCKDB = r"""
import json, re, sys, time
import duckdb
path, out = json.loads(sys.argv[1])
con = duckdb.connect()
con.execute("SET threads=1")
cols = "{'time': 'BIGINT', 'src': 'VARCHAR', 'dst_user': 'VARCHAR', 'src_host': 'VARCHAR', " \
       "'dst_host': 'VARCHAR', 'auth': 'VARCHAR', 'logon': 'VARCHAR', 'orient': 'VARCHAR', " \
       "'ok': 'VARCHAR'}"
src = f"read_csv('{path}', header=false, columns={cols})"
t = time.perf_counter()
n = con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
count_s = time.perf_counter() - t
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM {src}) TO '{out}' (FORMAT parquet)")
copy_s = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"records": n, "count_s": count_s, "copy_s": copy_s, "peak_rss_mib": hwm / 1024}))
"""


def _run(script: str, arg: object) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", script, json.dumps(arg)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    ap.add_argument("--evtx-passes", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    ap.add_argument("--only", nargs="*", help="formats to run (default: all)")
    a = ap.parse_args()
    sizes = {
        "lanl_auth": int(2_000_000 * a.scale),
        "ecs_json": int(200_000 * a.scale),
        "zeek_conn": int(500_000 * a.scale),
    }
    gens = {"lanl_auth": gen.lanl_auth, "ecs_json": gen.ecs, "zeek_conn": gen.zeek_conn}
    evtx = sorted(REAL.rglob("*.evtx"))
    security = [p for p in evtx if "security" in p.name.lower()]
    if security:
        sizes["evtx_big"] = int(300 * a.scale)  # 64 KiB chunks, ~80 records each

        def big(path: Path, n: int, seed: int = 1) -> Path:
            return gen.evtx_big(path.with_suffix(".evtx"), security, n)

        gens["evtx_big"] = big
    if a.only:
        sizes = {k: v for k, v in sizes.items() if k in a.only}
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for fmt, n in sizes.items():
            for mult in (1, 10):
                src = gens[fmt](t / f"{fmt}-{mult}.txt", n * mult, seed=mult)
                res = _run(INGEST, [[str(src)], str(t / f"store-{fmt}-{mult}"), {}])
                size = f"{n * mult} chunks" if fmt == "evtx_big" else n * mult
                rows.append({"format": fmt, "size": size, **res})
                if fmt == "lanl_auth":
                    base = _run(DUCKDB, [str(src), str(t / f"duck-{mult}.parquet")])
                    rows.append(
                        {
                            "format": "duckdb read_csv (count)",
                            "size": n * mult,
                            "records": base["records"],
                            "wall_s": base["count_s"],
                            "peak_rss_mib": base["peak_rss_mib"],
                        }
                    )
                    rows.append(
                        {
                            "format": "duckdb read_csv -> parquet",
                            "size": n * mult,
                            "records": base["records"],
                            "wall_s": base["copy_s"],
                            "peak_rss_mib": base["peak_rss_mib"],
                        }
                    )
                src.unlink()
        for passes in (a.evtx_passes, a.evtx_passes * 10):
            if evtx and (not a.only or "evtx" in a.only):
                res = _run(EVTX, [[str(p) for p in evtx], passes])
                rows.append({"format": "evtx (real files)", "size": f"{passes} passes", **res})
    for r in rows:
        r["records_per_s"] = round(float(r["records"]) / float(r["wall_s"]))  # type: ignore[arg-type]
        r["wall_s"] = round(float(r["wall_s"]), 2)  # type: ignore[arg-type]
        r["peak_rss_mib"] = round(float(r["peak_rss_mib"]))  # type: ignore[arg-type]
    if a.json:
        for r in rows:
            print(json.dumps(r))
        return
    print("| format | size | records | wall s | records/s (1 core) | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['format']} | {r['size']} | {r['records']:,} | {r['wall_s']} | "
            f"{r['records_per_s']:,} | {r['peak_rss_mib']} |"
        )


if __name__ == "__main__":
    main()
