"""Benchmark ``ashiato.simulate``: wall time, peak RSS and volume, optionally the realism numbers.

Usage: ``.venv/bin/python bench/simulate.py --terminals 1500 --days 30 [--measure] [--out DIR]``.
Run one size per process so that the peak RSS reported belongs to that size alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ashiato.simulate import simulate
from ashiato.simulate.realism import measure


def main() -> None:
    """Run one simulation and print a JSON report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, default=1500)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--measure", action="store_true", help="also compute realism checks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "sim"
        began = time.perf_counter()
        summary = simulate(out, terminals=args.terminals, days=args.days, seed=args.seed)
        wall = time.perf_counter() - began
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        report: dict[str, object] = {
            "terminals": args.terminals,
            "days": args.days,
            "wall_s": round(wall, 2),
            "peak_rss_mib": round(peak_mib, 1),
            "output_mib": round(size / 2**20, 1),
            "windows_events_per_s": round(summary.windows_events / wall),
            **summary.__dict__,
        }
        report.update(_baselines(out, size))
        report["wall_vs_write_floor"] = round(wall / float(report["write_floor_s"]), 2)  # type: ignore[arg-type]
        report["rss_vs_import_only"] = round(peak_mib / float(report["import_rss_mib"]), 2)  # type: ignore[arg-type]
        if args.measure:
            report["realism"] = measure(out)
        print(json.dumps(report, indent=2, default=str))


def _baselines(out: Path, size: int) -> dict[str, float]:
    """Floors measured in the same run: writing the same bytes, and importing the package alone."""
    block = b"x" * (1 << 20)
    floor = out.parent / "floor.bin"
    began = time.perf_counter()
    with floor.open("wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)
        fh.write(block[: size & ((1 << 20) - 1)])
    write_s = time.perf_counter() - began
    floor.unlink()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent.
    probe = (
        "import re, ashiato.simulate; "
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    kib = int(run.stdout)
    return {"write_floor_s": round(max(write_s, 1e-3), 3), "import_rss_mib": round(kib / 1024, 1)}


if __name__ == "__main__":
    main()
