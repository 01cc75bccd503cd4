#!/usr/bin/env python3
"""Build ashiato's pinned SigmaHQ rule set (``src/ashiato/sigma/rulesets/sigmahq.zip`` and its
manifest) from a SigmaHQ checkout, so that the pin shipped in the package is reproducible.

    python scripts/sigmahq_ruleset.py ../shared/data/sigmahq \\
        --commit 8eaafff1f2845a696050e05e72ba1140ee190698 --date 2026-08-05
    python scripts/sigmahq_ruleset.py ../shared/data/sigmahq --commit ... --date ... --check

The archive holds ``rules/windows/**`` (every ``.yml``), SigmaHQ's ``LICENSE`` (the Detection Rule
License 1.1: rules keep their ``author`` field, the attribution it asks for) and a ``NOTICE.md``
naming the source and commit. Entries are sorted, dated with the commit's date and stored with
fixed permissions, so the same checkout gives the same bytes (with the same zlib; the manifest's
``content_sha256``, over the files themselves, does not depend on the compressor). ``--check``
rebuilds in memory and compares with the shipped manifest instead of writing.

Needs only the standard library (no ``make``, no ashiato import).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "ashiato" / "sigma" / "rulesets"
SUBTREES = ("rules/windows",)
UPSTREAM = "https://github.com/SigmaHQ/sigma"
LICENCE = "DRL-1.1"


def content_digest(files: dict[str, bytes]) -> str:
    """SHA-256 over the sorted (path, SHA-256 of content) pairs: what the archive holds."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return h.hexdigest()


def collect(checkout: Path, commit: str, date: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for sub in SUBTREES:
        root = checkout / sub
        if not root.is_dir():
            sys.exit(f"{root}: not a directory (is {checkout} a SigmaHQ checkout?)")
        for f in sorted(root.rglob("*.yml")):
            if f.is_file() and not f.is_symlink():
                files[f.relative_to(checkout).as_posix()] = f.read_bytes()
    licence = checkout / "LICENSE"
    if not licence.is_file():
        sys.exit(f"{licence}: missing; the rules' licence must travel with them")
    files["LICENSE"] = licence.read_bytes()
    files["NOTICE.md"] = (
        f"# SigmaHQ rules, pinned by ashiato\n\n"
        f"Source: {UPSTREAM} at commit {commit} ({date}), subtrees: {', '.join(SUBTREES)}.\n"
        f"Licence: Detection Rule License (DRL) 1.1, see LICENSE. Each rule names its authors in\n"
        f"its `author` field; ashiato ships the rules unmodified.\n"
    ).encode()
    return files


def build(files: dict[str, bytes], date: str) -> bytes:
    y, m, d = (int(x) for x in date.split("-"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(y, m, d, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            zf.writestr(info, files[name])
    return buf.getvalue()


def manifest(files: dict[str, bytes], archive: bytes, commit: str, date: str) -> dict[str, object]:
    rules = sum(1 for n in files if n.endswith(".yml"))
    return {
        "name": f"sigmahq-{commit[:8]}",
        "title": "SigmaHQ community rules (Windows)",
        "source": UPSTREAM,
        "commit": commit,
        "date": date,
        "subtrees": list(SUBTREES),
        "licence": LICENCE,
        "licence_file": "LICENSE",
        "archive": "sigmahq.zip",
        "archive_sha256": hashlib.sha256(archive).hexdigest(),
        "archive_bytes": len(archive),
        "content_sha256": content_digest(files),
        "rule_files": rules,
        "files": len(files),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", type=Path, help="a SigmaHQ checkout (holds rules/windows)")
    ap.add_argument("--commit", required=True, help="the checkout's full commit hash")
    ap.add_argument("--date", required=True, help="the commit's date, YYYY-MM-DD")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output directory (default {OUT})")
    ap.add_argument("--check", action="store_true", help="compare with the shipped manifest")
    a = ap.parse_args()
    files = collect(a.checkout, a.commit, a.date)
    archive = build(files, a.date)
    got = manifest(files, archive, a.commit, a.date)
    if a.check:
        shipped = json.loads((a.out / "sigmahq.json").read_text(encoding="utf-8"))
        same = shipped["content_sha256"] == got["content_sha256"]
        bytes_same = shipped["archive_sha256"] == got["archive_sha256"]
        print(
            f"content {'matches' if same else 'DIFFERS'}; archive bytes "
            f"{'match' if bytes_same else 'differ (another zlib?)'}"
        )
        return 0 if same else 1
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "sigmahq.zip").write_bytes(archive)
    (a.out / "LICENSE-sigmahq").write_bytes(files["LICENSE"])
    (a.out / "sigmahq.json").write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.out / 'sigmahq.zip'}: {got['rule_files']} rule files, {len(archive):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
