"""Run ashiato's Sigma rule pack over every file of shared/data/real: which files fire which rules.

Each input file is ingested alone into a temporary store (``ashiato.ingest``) and run with
``detect(store, None, detectors=[], rules=[rules/ashiato])``: the pack only, no behavioural
detector. Files that ingest to no Windows event (pcaps, Zeek, metadata) are listed as skipped.
Nothing is fetched: the inputs are the files already under shared/data/real.

Usage: ``.venv/bin/python bench/sigma_real.py [REAL_DIR] [--all]`` — prints the Markdown kept in
docs/sigma.md (``--all`` also lists files where no rule fired).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# bench/sigma.py would shadow pySigma's ``sigma`` package: drop this script's folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from ashiato.detect.runner import detect  # noqa: E402
from ashiato.ingest import ingest  # noqa: E402

HERE = Path(__file__).parent
PACK = HERE.parent / "rules" / "ashiato"
REAL = HERE.parents[1] / "shared" / "data" / "real"
SKIP_SUFFIXES = {".gpl", ".md", ".tsv", ".csv", ".yaml", ".yml", ".pcap", ".pcapng", ".cap", ".txt"}


def inputs(real: Path) -> list[Path]:
    """Data files under ``real`` (documentation and inventories left out)."""
    return sorted(
        p
        for p in real.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in SKIP_SUFFIXES
        and not p.name.startswith(("_", "LICENSE"))
    )


def run_file(path: Path, tmp: Path) -> tuple[int, dict[str, int], str]:
    """(events stored, rule title -> findings, note) for one file alone."""
    store = tmp / "store"
    rep = ingest([path], store, workers=1)
    if rep.records_stored == 0:
        return 0, {}, "no events stored"
    res = detect(store, None, detectors=[], rules=[PACK])
    fired: dict[str, int] = defaultdict(int)
    for f in res.findings.to_pylist():
        fired[f["title"]] += 1
    problems = [n for n in res.notices if n.startswith("sigma:")]
    return rep.records_stored, dict(fired), "; ".join(problems)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("real", nargs="?", type=Path, default=REAL)
    ap.add_argument("--all", action="store_true", help="list files where no rule fired too")
    a = ap.parse_args()
    t0 = time.perf_counter()
    rows: list[tuple[str, str, int, dict[str, int]]] = []
    notes: set[str] = set()
    scanned = 0
    for path in inputs(a.real):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                n, fired, note = run_file(path, Path(tmp))
            except Exception as exc:  # a file no parser takes: report, go on
                print(f"skipped {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
        if note and note != "no events stored":
            notes.add(note)
        if n == 0:
            continue
        scanned += 1
        rel = path.relative_to(a.real)
        rows.append((rel.parts[0], str(Path(*rel.parts[1:])), n, fired))
    wall = time.perf_counter() - t0
    fired_rows = [r for r in rows if r[3]]
    print(
        f"{scanned} files with Windows events scanned in {wall:.0f} s; "
        f"{len(fired_rows)} fire at least one rule of the pack."
    )
    print()
    print("| folder | file | events | rules fired (findings) |")
    print("|---|---|---|---|")
    for folder, name, n, fired in rows if a.all else fired_rows:
        what = "; ".join(f"{t} ({c})" for t, c in sorted(fired.items())) or "—"
        print(f"| {folder} | {name.replace('|', '/')} | {n:,} | {what} |")
    per_rule: dict[str, list[str]] = defaultdict(list)
    for folder, name, _, fired in fired_rows:
        for title in fired:
            per_rule[title].append(f"{folder}/{name}")
    print()
    print("| rule | files fired on | folders |")
    print("|---|---|---|")
    for title, files in sorted(per_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        folders = sorted({f.split("/", 1)[0] for f in files})
        print(f"| {title} | {len(files)} | {', '.join(folders)} |")
    for note in sorted(notes):
        print(f"\nnote: {note}", file=sys.stderr)


if __name__ == "__main__":
    main()
