"""The ingest report as the CLI prints it: every file when there are few, a summary when many."""

from __future__ import annotations

import io
import re

from rich.console import Console

from ashiato.ingest.report import (
    ALREADY_INGESTED,
    LIST_EVERY_FILE,
    MAX_NOTED_FILES,
    FileResult,
    IngestReport,
)


def _text(report: IngestReport) -> str:
    console = Console(width=250, file=io.StringIO())
    console.print(report)
    return console.file.getvalue()  # type: ignore[attr-defined]


def _clean(path: str, n: int = 10) -> FileResult:
    return FileResult(path, "0" * 64, "evtx", records_read=n, records_stored=n)


def test_few_files_get_a_row_each() -> None:
    files = tuple(_clean(f"/logs/a/{i}.evtx") for i in range(LIST_EVERY_FILE))
    out = _text(IngestReport(files))
    assert all(f"/logs/a/{i}.evtx" in out for i in range(LIST_EVERY_FILE))
    assert "files)" not in out and "store manifest" not in out


def test_many_files_are_summed_per_directory_and_the_odd_ones_listed() -> None:
    files = [_clean(f"/logs/a/{i}.evtx") for i in range(30)]
    files += [_clean(f"/logs/b/{i}.evtx", 5) for i in range(20)]
    files.insert(3, FileResult("/logs/a/bad.evtx", "1" * 64, "evtx", 7, 4, 3, status="ingested"))
    files.append(FileResult("/logs/b/dup.evtx", "2" * 64, "evtx", 2, 0, 0, 2))
    files.append(FileResult("/logs/b/again.evtx", "3" * 64, None, status=ALREADY_INGESTED))
    files.append(FileResult("/logs/b/broken.evtx", "4" * 64, "evtx", status="failed: OSError"))
    report = IngestReport(tuple(files))
    out = _text(report)
    lines = out.splitlines()
    row_a = next(x for x in lines if "/logs/a/ (30 files)" in x)
    row_b = next(x for x in lines if "/logs/b/ (20 files)" in x)
    assert re.search(r"\b300\b.*\b300\b.*\b0\b", row_a)  # read, stored, rejected
    assert re.search(r"\b100\b.*\b100\b", row_b)
    for name in ("bad.evtx", "dup.evtx", "again.evtx", "broken.evtx"):
        assert f"/logs/{'a' if name == 'bad.evtx' else 'b'}/{name}" in out
    assert not any(f"/logs/a/{i}.evtx" in out for i in range(30))
    total = next(x for x in lines if x.strip("│ ").startswith("total"))
    assert f"{report.records_read:,}" in total and f"{len(files)} files" in total
    assert "store manifest" in out
    # rows keep the input order: a directory's row where its first file came
    assert out.index("/logs/a/ (30 files)") < out.index("/logs/a/bad.evtx")
    assert out.index("/logs/a/bad.evtx") < out.index("/logs/b/ (20 files)")


def test_a_flood_of_failures_is_summed_too() -> None:
    n = MAX_NOTED_FILES + 50
    files = tuple(
        FileResult(f"/logs/x/{i}.evtx", f"{i:064x}", "evtx", status="failed: disk full")
        for i in range(n)
    )
    out = _text(IngestReport(files))
    assert "/logs/x/ (50 files)" in out
    assert f"/logs/x/{MAX_NOTED_FILES - 1}.evtx" in out
    assert f"/logs/x/{MAX_NOTED_FILES}.evtx" not in out
