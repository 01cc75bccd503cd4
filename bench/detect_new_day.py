"""Benchmark judging one new day against the detection state, after short and long histories.

Issue 14's question: does a run over one new day cost the day, or the history? The simulated
estate's first 28 days are repeated ``max(--copies)`` times, each copy 28 days later (whole weeks:
``bench/detect.py``'s BUILD and PERIOD), into one store. Then, for each ``--copies`` value in
order (1 = 28 days, 3 = 84 days):
the days up to that history's last day but one are put in and ``ashiato detect`` folds them (the
history fold: for the second and later values, only the days added since the one before); the
last day is put in and ``ashiato detect`` runs again: that run is the new-day cost. Every copy's
last day holds the same events (shifted), so the new days differ only in the history behind them.
A third run with nothing new shows the fixed cost. The base is DuckDB's ``GROUP BY kind`` scan of
the store as it is then (bench/detect.py). Each run is a fresh process (the CLI, default Sigma set
included unless ``--no-rules``); its peak RSS is its own (a wrapper process's children rusage).
Each history's result is printed as a JSON line to stderr as soon as it is measured.

Usage: ``.venv/bin/python bench/detect_new_day.py --source STORE --inventory INV --copies 1 3
[--out DIR] [--no-rules] [--keep | --reuse DIR]``; without ``--source`` a 1,500 × 30 estate is
simulated first. The copies keep their source days' holidays (``detect.copies_calendar``).
A kept store also keeps each history's state before its new day (``state-before-day-N``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from detect import (  # bench scripts sit side by side
    BASELINE,
    BUILD,
    PERIOD,
    _run,
    _source,
    copies_calendar,
    first_day,
)

CLI = [str(Path(sys.executable).parent / "ashiato")]  # the console script beside python

WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)
"""Runs one command and prints its peak RSS (KiB) last on stderr: this run's peak alone."""


def _detect(store: Path, inv: Path, rules: bool) -> dict[str, float]:
    """One ``ashiato detect`` in a fresh process: wall seconds and its own peak RSS."""
    cmd = [*CLI, "detect", "--store", str(store), "--inventory", str(inv), "--limit", "0"]
    if not rules:
        cmd.append("--no-default-rules")
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WRAP, *cmd], check=False, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-3000:])
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(peak_kib / 1024)}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _put_back(held: Path, events: Path, up_to: int) -> None:
    """Move the held day partitions, oldest first, into the store until it has ``up_to`` days."""
    have = len(list(events.glob("day=*")))
    for day in sorted(held.glob("day=*"))[: max(0, up_to - have)]:
        shutil.move(str(day), events / day.name)


def measure(
    src: Path, inv: Path, copies: list[int], work: Path, rules: bool, keep: bool = False
) -> list[dict[str, object]]:
    """Build once (or reuse ``work``'s store, kept by an earlier ``--keep``), then fold and
    judge one new day after each history length in turn. The copies keep their source's
    holidays (``copies_calendar``)."""
    big = work / f"x{max(copies)}"
    if (big / "events").is_dir():  # reused: only the events stay
        for sub in big.iterdir():
            if sub.name != "events":
                shutil.rmtree(sub) if sub.is_dir() else sub.unlink()
        built: dict[str, object] = {"events": "reused"}
    else:
        (big / "events").mkdir(parents=True)
        built = _run(BUILD, [str(src), str(big), max(copies), PERIOD])
    calendar = work / "inventory"
    shutil.rmtree(calendar, ignore_errors=True)
    inv = copies_calendar(inv, first_day(src), max(copies), calendar)
    days = sorted((big / "events").glob("day=*"))
    per_copy = len(days) // max(copies)
    held = work / "held"
    held.mkdir(exist_ok=True)
    for day in days:
        shutil.move(str(day), held / day.name)
    results: list[dict[str, object]] = []
    for c in sorted(copies):
        n_days = per_copy * c
        folded_from = len(list((big / "events").glob("day=*")))
        _put_back(held, big / "events", n_days - 1)
        history = _detect(big, inv, rules)
        if keep:  # the state before the new day: put it back (and the later days out) to judge
            before = work / f"state-before-day-{n_days}"  # that day again, e.g. under a profiler
            shutil.rmtree(before, ignore_errors=True)
            shutil.copytree(big / "state", before)
        _put_back(held, big / "events", n_days)
        new_day = _detect(big, inv, rules)
        nothing = _detect(big, inv, rules)
        r: dict[str, object] = {
            "copies": c,
            "days": n_days,
            "days_folded": n_days - 1 - folded_from,
            "events_built": built["events"],
            "baseline": _run(BASELINE, str(big)),
            "history_fold": history,
            "new_day": new_day,
            "nothing_new": nothing,
            "state_bytes": _size(big / "state"),
            "event_bytes": _size(big / "events"),
        }
        print(json.dumps(r), file=sys.stderr, flush=True)
        results.append(r)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", type=Path, help="an ingested store to repeat")
    ap.add_argument("--inventory", type=Path, help="its inventory directory")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--out", type=Path, help="where to build the store (default: temp)")
    ap.add_argument("--no-rules", action="store_true", help="detectors only, no Sigma set")
    ap.add_argument(
        "--keep", action="store_true", help="keep the built store in --out (to measure again)"
    )
    ap.add_argument(
        "--reuse", type=Path, help="a directory an earlier --keep run left: measure it again"
    )
    a = ap.parse_args()
    where = (
        contextlib.nullcontext(str(a.reuse) if a.reuse else tempfile.mkdtemp(dir=a.out))
        if a.keep or a.reuse
        else tempfile.TemporaryDirectory(dir=a.out)
    )
    with where as tmp_name:
        tmp = Path(tmp_name)
        src, inv = (a.source, a.inventory) if a.source else _source(tmp)
        results = measure(src, inv, a.copies, tmp, not a.no_rules, keep=a.keep or bool(a.reuse))
        if a.keep:
            print(f"kept: {tmp}", file=sys.stderr)
    print(json.dumps(results, indent=1))
    print(
        "| history | events in store | base s | days folded | fold s | one new day s "
        "| nothing new s | new day / base | new day peak RSS MiB | state / events |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        b, h, n, z = r["baseline"], r["history_fold"], r["new_day"], r["nothing_new"]
        assert isinstance(b, dict) and isinstance(h, dict) and isinstance(n, dict)
        assert isinstance(z, dict)
        ratio = float(n["wall_s"]) / float(b["wall_s"])
        share = int(r["state_bytes"]) / max(1, int(r["event_bytes"]))  # type: ignore[call-overload]
        print(
            f"| {r['days']} days | {b['events']:,} | {float(b['wall_s']):.1f} | "
            f"{r['days_folded']} | {h['wall_s']} | {n['wall_s']} | {z['wall_s']} | "
            f"{ratio:.1f}x | {n['peak_rss_mib']} | {100 * share:.1f} % |"
        )
    if len(results) > 1:
        first, last = results[0]["new_day"], results[-1]["new_day"]
        assert isinstance(first, dict) and isinstance(last, dict)
        ratio = float(last["wall_s"]) / float(first["wall_s"])
        n0, n1 = results[0]["days"], results[-1]["days"]
        print(f"new day after {n1} days / after {n0} days: {ratio:.2f}x")


if __name__ == "__main__":
    main()
