"""Detectors' compiled SQL is kept between runs: the next run uses it and finds the same; another
context (parameters here) is another entry; a query that reads data to build is never kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect import runner
from ashiato.detect.registry import DETECTORS
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


def test_the_next_run_uses_the_kept_sql_and_finds_the_same(
    inventory: Any, write_events: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, first, entries = _first_run(inventory, write_events, tmp_path, monkeypatch)
    # every detector that ran, but the three that read data while building their query and
    # those judged day by day (``ashiato.detect.fold`` compiles theirs once per run)
    ran = {r.detector for r in first.runs if r.status == "ran"}
    stateful = {d.SPEC.id for d in DETECTORS if d.SPEC.stateful}
    readers = {"lateral.hop_chain", "privilege.off_hours"} | stateful
    assert len(entries) == len(ran - readers) > 0

    again = runner.detect(root, inventory)
    assert again.findings.to_pylist() == first.findings.to_pylist()
    assert sorted(entries[0].parent.glob("*.json")) == entries

    # the entries are what runs: emptied, the cached detectors find nothing ...
    for f in entries:
        entry = json.loads(f.read_text())
        f.write_text(json.dumps({**entry, "sql": entry["sql"] + " LIMIT 0"}))
    emptied = _by_detector(runner.detect(root, inventory))
    found = _by_detector(first)
    cached = sorted(found.keys() - readers)
    assert cached
    assert emptied.keys() == found.keys() & readers
    # ... and other parameters are another entry, built afresh
    det = cached[0]
    params = {det: {"max_evidence": 1999}}
    other = _by_detector(runner.detect(root, inventory, params=params))
    assert other[det]
    monkeypatch.setenv("ASHIATO_CACHE_DIR", "off")
    assert other[det] == _by_detector(runner.detect(root, inventory, params=params))[det]


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
    root, first, entries = _first_run(inventory, write_events, tmp_path, monkeypatch)
    good = {f: f.read_text() for f in entries}
    for f in entries[:2]:
        f.write_text(json.dumps({**json.loads(good[f]), "sql": "SELECT no_such_column FROM x"}))
    entries[2].write_text("{not json")
    again = runner.detect(root, inventory)
    assert again.findings.to_pylist() == first.findings.to_pylist()
    assert {f: f.read_text() for f in entries} == good


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
