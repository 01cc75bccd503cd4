"""The full SigmaHQ Windows set over the collections that once ran it out of memory: every
OTRF dataset of shared/data/real and a simulated 150-terminal week, each alone. Reports, per
collection, events, hosts, whether ``ashiato detect`` succeeded, its wall time, peak RSS
(the detect process's VmHWM) and the Sigma line of its output.

Each collection is ingested alone into a temporary store; ``ashiato detect --store S
--infer-sites --rules RULES`` then runs in a fresh process (``--no-default-rules`` too when
the CLI has it, so that exactly RULES run). The compiled-rule cache is warmed once first, so
the numbers are those of a warm run; ``--cold`` gives every run a fresh cache.

Usage: ``.venv/bin/python bench/sigma_memory.py [--only SUBSTRING] [--sim-seeds 3,4]
[--terminals 150 --days 7] [--cold]`` — prints a Markdown table for docs/sigma.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
OTRF = SHARED / "data" / "real" / "otrf-security-datasets"
RULES = SHARED / "data" / "sigmahq" / "rules" / "windows"
ASHIATO = [str(Path(sys.executable).parent / "ashiato")]
DATASET_SUFFIXES = (".zip", ".tar.gz", ".json", ".jsonl")


def datasets(root: Path) -> list[Path]:
    """OTRF dataset files (zipped JSON lines; pcaps and metadata left out)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name.endswith(DATASET_SUFFIXES) and "_metadata" not in p.parts
    )


def run(cmd: list[str], env: dict[str, str]) -> tuple[int, str]:
    """(exit status, output) of ``cmd``."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[int, str, float, int]:
    """Like ``run`` but the peak RSS read by GNU time's ``%M`` (KiB) of that one process."""
    marker = "@@peak-rss-kib="
    timed = ["/usr/bin/time", "-f", f"{marker}%M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(timed, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    m = re.search(re.escape(marker) + r"(\d+)", proc.stderr)
    err = proc.stderr.replace(m.group(0), "") if m else proc.stderr
    return proc.returncode, proc.stdout + err, wall, int(m.group(1)) if m else 0


def detect_cmd(store: Path) -> list[str]:
    cmd = [*ASHIATO, "detect", "--store", str(store), "--infer-sites", "--rules", str(RULES)]
    helptext = subprocess.run(
        [*ASHIATO, "detect", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, COLUMNS="400"),
    ).stdout
    if "--no-default-rules" in helptext:
        cmd.append("--no-default-rules")
    return cmd


def store_facts(store: Path) -> tuple[int, int]:
    """(events, distinct recording hosts) of a store."""
    import duckdb

    from ashiato.store import Store

    st = Store(store)
    con = st.connect()
    try:
        ev = st.events(con)
        row = con.to_pyarrow(ev.aggregate(n=ev.count(), h=ev.log_host.nunique())).to_pylist()[0]
    except duckdb.Error:
        return 0, 0
    finally:
        con.disconnect()
    return int(row["n"] or 0), int(row["h"] or 0)


def sigma_line(out: str) -> str:
    """The detect report's sigma row, squeezed."""
    for line in out.splitlines():
        if "sigma" in line and "│" in line:
            return " ".join(line.replace("│", " ").split())[:90]
    return ""


def failure(out: str) -> str:
    lines = [ln for ln in out.splitlines() if "Error" in ln or "error" in ln]
    return (lines[-1] if lines else out.strip().splitlines()[-1:] or [""])[0][:120]


def measure(
    name: str, inputs: list[str], tmp: Path, env: dict[str, str]
) -> dict[str, object] | None:
    store = tmp / "store"
    run([*ASHIATO, "ingest", *inputs, "--store", str(store)], env)
    events, hosts = store_facts(store)
    if events == 0:
        return None
    code, out, wall, rss = peak_rss(detect_cmd(store), env)
    return {
        "name": name,
        "events": events,
        "hosts": hosts,
        "ok": code == 0,
        "seconds": wall,
        "rss_mib": rss / 1024,
        "note": sigma_line(out) if code == 0 else failure(out),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", default="", help="OTRF datasets whose path contains this")
    ap.add_argument("--sim-seeds", default="3", help="comma-separated; empty: no simulation")
    ap.add_argument("--terminals", type=int, default=150)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--no-otrf", action="store_true")
    ap.add_argument("--cold", action="store_true", help="a fresh rule cache for every run")
    args = ap.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="ashiato-sigma-mem-") as td:
        tmp = Path(td)
        env = dict(os.environ, ASHIATO_CACHE_DIR=str(tmp / "cache"))
        if not args.cold:  # warm the compiled-rule cache once
            run([*ASHIATO, "rules", "check", str(RULES)], env)
        jobs: list[tuple[str, list[str]]] = []
        for seed in [s for s in args.sim_seeds.split(",") if s.strip()]:
            out = tmp / f"sim{seed}"
            run(
                [
                    *ASHIATO,
                    "simulate",
                    "--out",
                    str(out),
                    "--terminals",
                    str(args.terminals),
                    "--days",
                    str(args.days),
                    "--seed",
                    seed,
                ],
                env,
            )
            label = f"simulated {args.terminals} terminals x {args.days} days, seed {seed}"
            jobs.append((label, [str(out / "logs" / "windows")]))
        if not args.no_otrf:
            for path in datasets(OTRF):
                if args.only in str(path):
                    jobs.append((str(path.relative_to(OTRF)), [str(path)]))
        for i, (name, inputs) in enumerate(jobs, 1):
            work = tmp / f"job{i}"
            work.mkdir()
            run_env = dict(env, ASHIATO_CACHE_DIR=str(work / "cache")) if args.cold else env
            row = measure(name, inputs, work, run_env)
            print(f"[{i}/{len(jobs)}] {name}: {row}", file=sys.stderr, flush=True)
            if row is not None:
                rows.append(row)
            subprocess.run(["rm", "-rf", str(work)], check=False)
    load = os.getloadavg()[0]
    print(f"\n{len(rows)} collections, load average {load:.1f} at the end\n")
    print("| collection | events | hosts | detect | seconds | peak RSS MiB | sigma |")
    print("|---|---:|---:|---|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['events']:,} | {r['hosts']} | {'ok' if r['ok'] else 'FAILED'} "
            f"| {r['seconds']:.1f} | {r['rss_mib']:.0f} | {r['note']} |"
        )
    failed = [r for r in rows if not r["ok"]]
    multi = [r for r in rows if int(str(r["hosts"])) > 1]
    peak = max((float(str(r["rss_mib"])) for r in rows), default=0.0)
    print(
        f"\n{len(failed)} failed of {len(rows)}; {len(multi)} multi-host; "
        f"largest peak RSS {peak:.0f} MiB"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
