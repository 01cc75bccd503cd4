"""Detectors' compiled SQL is kept between runs: another store's run uses it and finds the same;
another context (parameters here) is another entry; a query that reads data to build is never
kept; a damaged entry is built afresh."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect import runner
from ashiato.detect.sqlcache import cache_root
from tests.detect.test_runner_view import detecting_rows


def _by_detector(rep: runner.DetectReport) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rep.findings.to_pylist():
        out.setdefault(r["detector"], []).append(r)
    return out


def _first_run(
    inventory: Any, write_events: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, runner.DetectReport, list[Path]]:
    """A run with a fresh cache: the store, its report and the entries it kept."""
    monkeypatch.setenv("ASHIATO_CACHE_DIR", str(tmp_path / "cache"))
    root = write_events(detecting_rows())
    first = runner.detect(root, inventory)
    kept = cache_root()
    assert kept is not None
    return root, first, sorted(kept.glob("*.json"))


READERS = {"lateral.hop_chain"}
"""Detectors that read data while building their query: theirs is never kept."""


def _seen(rep: runner.DetectReport) -> dict[str, list[tuple[Any, ...]]]:
    return {
        d: sorted((r["evidence_count"], tuple(r["evidence"]), r["score"]) for r in rows)
        for d, rows in _by_detector(rep).items()
    }


def test_another_store_uses_the_kept_sql_and_finds_the_same(
    inventory: Any, write_events: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, first, entries = _first_run(inventory, write_events, tmp_path, monkeypatch)
    assert entries
    # the same events a week later in another store: another data start, the same SQL
    later = [{**r, "ts": r["ts"] + timedelta(days=7)} for r in detecting_rows()]
    other = runner.detect(write_events(later), inventory)
    assert sorted(entries[0].parent.glob("*.json")) == entries
    assert _seen(other) == _seen(first)

    # the entries are what runs: emptied, the cached detectors find nothing ...
    for f in entries:
        entry = json.loads(f.read_text())
        f.write_text(json.dumps({**entry, "sql": entry["sql"] + " LIMIT 0"}))
    emptied = _by_detector(runner.detect(write_events(detecting_rows()), inventory))
    found = _by_detector(first)
    cached = sorted(found.keys() - READERS)
    assert cached
    assert emptied.keys() == found.keys() & READERS
    # ... and other parameters are another entry, built afresh
    det = cached[0]
    params = {det: {"max_evidence": 1999}}
    changed = _by_detector(runner.detect(write_events(detecting_rows()), inventory, params=params))
    assert changed[det]
    monkeypatch.setenv("ASHIATO_CACHE_DIR", "off")
    fresh = runner.detect(write_events(detecting_rows()), inventory, params=params)
    assert changed[det] == _by_detector(fresh)[det]


def test_off_keeps_nothing(
    inventory: Any, write_events: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASHIATO_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() is None
    rep = runner.detect(write_events(detecting_rows()), inventory)
    assert rep.findings.num_rows >= 3
    assert not (tmp_path / "xdg").exists()


def test_a_damaged_entry_is_built_afresh_and_replaced(
    inventory: Any, write_events: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, first, entries = _first_run(inventory, write_events, tmp_path, monkeypatch)
    good = {f: f.read_text() for f in entries}
    for f in entries[:2]:
        f.write_text(json.dumps({**json.loads(good[f]), "sql": "SELECT no_such_column FROM x"}))
    entries[2].write_text("{not json")
    again = runner.detect(write_events(detecting_rows()), inventory)
    assert _seen(again) == _seen(first)
    # rebuilt as it was, but for the names of the in-memory tables it registers afresh
    assert {f: _unnamed(f.read_text()) for f in entries} == {
        f: _unnamed(text) for f, text in good.items()
    }
    assert "no_such_column" not in "".join(f.read_text() for f in entries)


def _unnamed(entry: str) -> str:
    return re.sub(r"ibis_pyarrow_memtable_[0-9a-z]+", "MEMTABLE", entry)


def test_a_query_calling_a_python_function_is_not_kept(tmp_path: Path) -> None:
    """A Python UDF is registered with the connection when its expression runs: SQL that
    calls it, read back in a later run, would name a function the connection never learnt."""
    import ibis

    from ashiato.detect.sqlcache import SqlCache

    @ibis.udf.scalar.python
    def twice(x: int) -> int:
        return 2 * x

    cache = SqlCache(tmp_path, None)
    t = ibis.table({"x": "int64"}, name="t")
    cache.put(cache.named_key(["udf"]), t.select(y=twice(t.x)), "SELECT 1")
    cache.put(cache.named_key(["plain"]), t.select(y=t.x * 2), "SELECT 2")
    assert cache.get(cache.named_key(["udf"])) is None
    assert cache.get(cache.named_key(["plain"])) is not None
