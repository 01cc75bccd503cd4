"""Benchmark judging one new day against the detection state, after short and long histories.

Issue 14's question: does a run over one new day cost the day, or the history? For each
``--copies`` value the simulated estate's store is repeated that many times, each copy 30 days
later (``bench/detect.py``'s BUILD: 1 copy = 30 days, 3 = 90 days); its last day is held back,
``ashiato detect`` (the CLI, default Sigma set included unless ``--no-rules``) folds the history,
the day is put back and ``ashiato detect`` runs again: that second run is the new-day cost. A
third run with nothing new shows the fixed cost. The base is DuckDB's ``GROUP BY kind`` scan of
the same store (bench/detect.py), timed in the same process run. Each run is a fresh process;
its peak RSS is the child's ``ru_maxrss``.

Usage: ``.venv/bin/python bench/detect_new_day.py --source STORE --inventory INV --copies 1 3
[--out DIR] [--no-rules]``; without ``--source`` a 1,500 × 30 estate is simulated first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from detect import BASELINE, BUILD, _run, _source  # bench scripts sit side by side

CLI = [str(Path(sys.executable).parent / "ashiato")]  # the console script beside python


def _detect(store: Path, inv: Path, rules: bool) -> dict[str, float]:
    """One ``ashiato detect`` in a fresh process: wall seconds and its peak RSS."""
    cmd = [*CLI, "detect", "--store", str(store), "--inventory", str(inv), "--limit", "0"]
    if not rules:
        cmd.append("--no-default-rules")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(max(peak, before) / 1024)}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def measure(src: Path, inv: Path, copies: int, work: Path, rules: bool) -> dict[str, object]:
    big = work / f"x{copies}"
    (big / "events").mkdir(parents=True)
    built = _run(BUILD, [str(src), str(big), copies])
    days = sorted((big / "events").glob("day=*"))
    held = work / f"held-{copies}"
    shutil.move(str(days[-1]), held)
    history = _detect(big, inv, rules)
    shutil.move(str(held), days[-1])
    new_day = _detect(big, inv, rules)
    nothing = _detect(big, inv, rules)
    base = _run(BASELINE, str(big))
    events = _size(big / "events")
    state = _size(big / "state")
    return {
        "copies": copies,
        "days": len(days),
        "events": built["events"],
        "baseline": base,
        "history_fold": history,
        "new_day": new_day,
        "nothing_new": nothing,
        "state_bytes": state,
        "event_bytes": events,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", type=Path, help="an ingested store to repeat")
    ap.add_argument("--inventory", type=Path, help="its inventory directory")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--out", type=Path, help="where to build the stores (default: temp)")
    ap.add_argument("--no-rules", action="store_true", help="detectors only, no Sigma set")
    ap.add_argument(
        "--keep", action="store_true", help="keep the built stores in --out (to measure again)"
    )
    a = ap.parse_args()
    results = []
    where = (
        contextlib.nullcontext(tempfile.mkdtemp(dir=a.out))
        if a.keep
        else tempfile.TemporaryDirectory(dir=a.out)
    )
    with where as tmp_name:
        tmp = Path(tmp_name)
        src, inv = (a.source, a.inventory) if a.source else _source(tmp)
        for c in a.copies:
            results.append(measure(src, inv, c, tmp, not a.no_rules))
            if not a.keep:
                shutil.rmtree(tmp / f"x{c}")
            else:
                print(f"kept: {tmp / f'x{c}'}", file=sys.stderr)
    print(json.dumps(results, indent=1))
    print(
        "| history | events | base s | fold of history s | one new day s | nothing new s "
        "| new day / base | peak RSS MiB | state / events |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        b, h, n, z = r["baseline"], r["history_fold"], r["new_day"], r["nothing_new"]
        assert isinstance(b, dict) and isinstance(h, dict) and isinstance(n, dict)
        assert isinstance(z, dict)
        ratio = float(n["wall_s"]) / float(b["wall_s"])
        share = int(r["state_bytes"]) / max(1, int(r["event_bytes"]))  # type: ignore[call-overload]
        print(
            f"| {r['days']} days | {r['events']:,} | {float(b['wall_s']):.1f} | "
            f"{h['wall_s']} | {n['wall_s']} | {z['wall_s']} | {ratio:.1f}x | "
            f"{max(h['peak_rss_mib'], n['peak_rss_mib'])} | {100 * share:.1f} % |"
        )


if __name__ == "__main__":
    main()
