"""What each folder of shared/data/real yields: inputs, records, rejections, events by kind.

Usage: ``.venv/bin/python bench/real_data.py`` — prints the Markdown tables kept in docs/formats.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb

from ashiato.ingest import ingest
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest

REAL = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data/real"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        layout = StoreLayout(Path(tmp) / "store")
        t0 = time.perf_counter()
        report = ingest([REAL], layout.root, workers=2)
        wall = time.perf_counter() - t0
        status = Counter(f.status.split(":")[0] for f in report.files)
        man = read_manifest(layout).to_pylist()
        folder_of = {r["sha256"][:16]: Path(r["path"]).relative_to(REAL).parts[0] for r in man}
        parsers: dict[str, Counter[str]] = {}
        for r in man:
            parsers.setdefault(folder_of[r["sha256"][:16]], Counter())[r["parser"]] += 1
        rows = duckdb.execute(
            f"""SELECT split_part(event_id, '-', 1) AS f, kind, count(*) AS n
                FROM read_parquet('{layout.events_glob()}') GROUP BY ALL"""
        ).fetchall()
        kinds: dict[str, Counter[str]] = {}
        for f, kind, n in rows:
            kinds.setdefault(folder_of[f], Counter())[kind] += n
        per: dict[str, list[int]] = {}
        for r in man:
            acc = per.setdefault(folder_of[r["sha256"][:16]], [0, 0, 0])
            acc[0] += 1
            acc[1] += r["records_read"]
            acc[2] += r["records_rejected"]
    print(
        f"Ingest of {REAL.name}/ ({len(report.files)} inputs) in {wall:.1f} s; status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
    )
    print()
    print("| folder | inputs parsed | parsers | records | rejected |")
    print("|---|---|---|---|---|")
    for folder in sorted(per):
        n, read, rej = per[folder]
        ps = ", ".join(f"{p} {c}" for p, c in parsers[folder].most_common())
        print(f"| {folder} | {n} | {ps} | {read:,} | {rej:,} |")
    all_kinds = sorted({k for c in kinds.values() for k in c})
    print()
    print("| folder | " + " | ".join(all_kinds) + " |")
    print("|---|" + "---|" * len(all_kinds))
    for folder in sorted(kinds):
        print(f"| {folder} | " + " | ".join(f"{kinds[folder][k]:,}" for k in all_kinds) + " |")


if __name__ == "__main__":
    main()
