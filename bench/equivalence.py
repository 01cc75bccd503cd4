"""Daily runs and a late office equal one batch run, on a simulated estate (issue 14).

    python bench/equivalence.py --sim SIM --work DIR [--site TH-BKK] [--late-day 12]
        [--after-day 20] [--json OUT]

``SIM`` is ``ashiato simulate`` output (per-day log files under ``SIM/logs``). The late office's
share of ``--late-day`` (Windows records its hosts logged, Zeek flows from its networks) is cut
into files of its own; every store below is made of the same input files, so event ids agree:

- **batch**: every file ingested, one ``detect``;
- **daily**: each day's files ingested and ``detect`` run after each day;
- **late**: as daily, but the office's share of the late day ingested after ``--after-day``.

The findings (id, evidence count, first and last seen, score, words) and incidents (id,
findings) that each store ends with are compared with the batch run's; every difference is
listed. Each daily ``detect`` is timed (one new day against the state).
"""

from __future__ import annotations

import argparse
import fnmatch
import ipaddress
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ashiato.detect import runner
from ashiato.inventory import load_inventory

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _site(sim: Path, name: str) -> tuple[list[str], list[Any]]:
    sites = yaml.safe_load((sim / "inventory" / "sites.yaml").read_text())["sites"]
    site = next(s for s in sites if s["name"] == name)
    return list(site.get("host_patterns") or []), [
        ipaddress.ip_network(c) for c in site.get("cidrs") or []
    ]


def _split(src: Path, office: Path, rest: Path, patterns: list[str], nets: list[Any]) -> int:
    """Copy ``src``'s records to ``office`` (the site's) or ``rest``; return the office's."""
    office.parent.mkdir(parents=True, exist_ok=True)
    rest.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with src.open(encoding="utf-8") as f, office.open("w") as fo, rest.open("w") as fr:
        fields: list[str] = []
        for line in f:
            if line.startswith("#"):  # a Zeek header: both halves keep it
                if line.startswith("#fields"):
                    fields = line.rstrip("\n").split("\t")[1:]
                fo.write(line)
                fr.write(line)
                continue
            mine = False
            if fields:
                ip = line.split("\t")[fields.index("id.orig_h")]
                try:
                    mine = any(ipaddress.ip_address(ip) in n_ for n_ in nets)
                except ValueError:
                    mine = False
            else:
                try:
                    host = ((json.loads(line).get("host") or {}).get("name") or "").lower()
                except ValueError:
                    host = ""
                mine = any(fnmatch.fnmatch(host, p) for p in patterns)
            (fo if mine else fr).write(line)
            n += mine
    return n


def _inputs(sim: Path, work: Path, site: str, late_day: str) -> tuple[dict[str, Path], Path, int]:
    """Per day, a directory of its input files (links); and the office's late share."""
    patterns, nets = _site(sim, site)
    days: dict[str, Path] = {}
    office_dir = work / "inputs" / "office"
    held = 0
    for f in sorted((sim / "logs").rglob("*")):
        m = DAY.search(f.name)
        if not f.is_file() or m is None:
            continue
        day = m.group(0)
        d = work / "inputs" / day
        days[day] = d
        dest = d / f.relative_to(sim / "logs")
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if day == late_day:
            held += _split(f, office_dir / f.relative_to(sim / "logs"), dest, patterns, nets)
        else:
            try:  # ingest does not follow symbolic links out of its input tree
                dest.hardlink_to(f)
            except OSError:
                shutil.copyfile(f, dest)
    return dict(sorted(days.items())), office_dir, held


def _ingest(store: Path, path: Path) -> None:
    exe = Path(sys.executable).parent / "ashiato"
    out = subprocess.run(
        [str(exe), "ingest", str(path), "--store", str(store)],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"ingest of {path} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")


def _seen(rep: runner.DetectReport) -> dict[str, Any]:
    f = {
        r["finding_id"]: {
            "detector": r["detector"],
            "evidence_count": r["evidence_count"],
            "first_seen": str(r["first_seen"]),
            "last_seen": str(r["last_seen"]),
            "score": r["score"],
            "reason": r["reason"],
        }
        for r in rep.findings.to_pylist()
    }
    i = {r["incident_id"]: sorted(r["finding_ids"]) for r in rep.incidents.to_pylist()}
    return {"findings": f, "incidents": i}


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for what in ("findings", "incidents"):
        x, y = a[what], b[what]
        changed = {k: {"batch": x[k], "other": y[k]} for k in x.keys() & y.keys() if x[k] != y[k]}
        out[what] = {
            "batch": len(x),
            "other": len(y),
            "only_batch": {k: x[k] for k in sorted(x.keys() - y.keys())},
            "only_other": {k: y[k] for k in sorted(y.keys() - x.keys())},
            "changed": changed,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sim", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--site", default="TH-BKK")
    ap.add_argument("--late-day", type=int, default=12)
    ap.add_argument("--after-day", type=int, default=20)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    inv = load_inventory(a.sim / "inventory")
    probe = sorted({m.group(0) for f in (a.sim / "logs").rglob("*") if (m := DAY.search(f.name))})
    late_day, after_day = probe[a.late_day - 1], probe[a.after_day - 1]
    days, office, held = _inputs(a.sim, a.work, a.site, late_day)
    print(f"{len(days)} days; {held:,} records of {a.site} on {late_day} held", flush=True)
    if held == 0:
        raise SystemExit(f"{a.site} has no records on {late_day}: nothing would arrive late")
    result: dict[str, Any] = {"site": a.site, "late_day": late_day, "after_day": after_day}
    result["held_records"] = held

    batch = a.work / "batch"
    t0 = time.perf_counter()
    for d in days.values():
        _ingest(batch, d)
    _ingest(batch, office)
    t1 = time.perf_counter()
    base = _seen(runner.detect(batch, inv))
    result["batch_seconds"] = {"ingest": t1 - t0, "detect": time.perf_counter() - t1}
    print(f"batch: {len(base['findings'])} findings, {result['batch_seconds']}", flush=True)

    for variant in ("daily", "late"):
        store = a.work / variant
        times = []
        rep = None
        for day, d in days.items():
            _ingest(store, d)
            if day == late_day and variant == "daily":
                _ingest(store, office)
            if day == after_day and variant == "late":
                t = time.perf_counter()
                runner.detect(store, inv)
                times.append(time.perf_counter() - t)
                _ingest(store, office)  # the office's day arrives after a later day's run
            t = time.perf_counter()
            rep = runner.detect(store, inv)
            times.append(time.perf_counter() - t)
            print(f"{variant} {day}: detect {times[-1]:.1f} s", flush=True)
        assert rep is not None
        result[variant] = {"detect_seconds": times, "diff": _diff(base, _seen(rep))}
        d = result[variant]["diff"]
        print(
            variant,
            {w: {k: len(v) if isinstance(v, dict) else v for k, v in d[w].items()} for w in d},
            flush=True,
        )
    text = json.dumps(result, indent=1, default=str)
    if a.json:
        a.json.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
