"""The compiled-rule cache (one JSON entry per rule file) and the store pre-filter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma.cache import RuleCache, load_compiled
from ashiato.sigma.compile import CompiledRuleSet
from ashiato.sigma.run import run_rules
from ashiato.sigma.step import prefilter_rules, present_codes
from tests.sigma.conftest import SYSMON, win

LOGON = """\
title: Network logon
id: 5b0f4c1e-0000-4000-8000-0000000000a1
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624, LogonType: 3}
  condition: selection
level: low
"""
SYSMON_RULE = """\
title: Sysmon process
id: 5b0f4c1e-0000-4000-8000-0000000000a2
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\evil.exe'}
  condition: selection
"""
KEYWORD = """\
title: Keyword anywhere
id: 5b0f4c1e-0000-4000-8000-0000000000a3
logsource: {product: windows, service: security}
detection:
  keywords: [alice]
  condition: keywords
"""
BROKEN = """\
title: Broken
id: 5b0f4c1e-0000-4000-8000-0000000000a4
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624}
  condition: selection and missing
"""
BASE = """\
title: Failed logon
id: 5b0f4c1e-0000-4000-8000-0000000000a5
name: failed_logon
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4625}
  condition: selection
"""
CORR = """\
title: Many failed logons
id: 5b0f4c1e-0000-4000-8000-0000000000a6
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 1h
  condition: {gte: 2}
"""
FILES = {
    "logon.yml": LOGON,
    "sysmon.yml": SYSMON_RULE,
    "keyword.yml": KEYWORD,
    "broken.yml": BROKEN,
    "base.yml": BASE,
    "corr.yml": CORR,
}


def _shape(c: CompiledRuleSet) -> Any:
    assert c.ruleset is not None
    return (
        [
            (r.meta, r.sql, r.codes, r.keys, r.fields, r.category, r.service, r.generate)
            for r in c.rules
        ],
        [(k.meta, k.kind, [getattr(b, "sql", None) for b in k.rules]) for k in c.correlations],
        c.skipped,
        sorted(map(str, c.ruleset.problems)),
        c.ruleset.files,
        c.ruleset.n_rules,
    )


def test_a_cache_hit_is_the_fresh_compile(rules_dir: Callable[..., Path], tmp_path: Path) -> None:
    d = rules_dir(FILES)
    fresh = compile_rules(load_rules([d]))
    cache = tmp_path / "c"
    cold = load_compiled([d], cache_dir=cache)
    warm = load_compiled([d], cache_dir=cache)
    assert cold.ruleset is not None and warm.ruleset is not None
    # base.yml and corr.yml are linked by a correlation: never cached
    assert (cold.ruleset.cache_hits, cold.ruleset.cache_misses) == (0, 6)
    assert (warm.ruleset.cache_hits, warm.ruleset.cache_misses) == (4, 2)
    assert _shape(warm) == _shape(cold) == _shape(fresh)
    bad = [*warm.skipped, *warm.ruleset.problems]
    assert any(p.path.endswith("broken.yml") for p in bad)


def test_an_edited_rule_is_recompiled(rules_dir: Callable[..., Path], tmp_path: Path) -> None:
    d = rules_dir(FILES)
    cache = tmp_path / "c"
    load_compiled([d], cache_dir=cache)
    (d / "logon.yml").write_text(LOGON.replace("LogonType: 3", "LogonType: 10"))
    warm = load_compiled([d], cache_dir=cache)
    assert warm.ruleset is not None and warm.ruleset.cache_misses == 3
    assert _shape(warm) == _shape(compile_rules(load_rules([d])))
    (logon,) = [r for r in warm.rules if r.meta.title == "Network logon"]
    assert "10" in logon.sql


@pytest.mark.parametrize(
    "damage",
    [
        "garbage{",
        "[]",
        '{"format": 1}',
        "null",
    ],
)
def test_a_corrupt_entry_is_a_miss(
    rules_dir: Callable[..., Path], tmp_path: Path, damage: str
) -> None:
    d = rules_dir(FILES)
    cache = tmp_path / "c"
    load_compiled([d], cache_dir=cache)
    entries = sorted(e for e in cache.rglob("*.json") if "sets" not in e.parts)
    assert len(entries) == 4
    for bundle in (cache / "sets").rglob("*.json"):  # the set's bundle would answer first
        bundle.unlink()
    for e in entries:
        e.write_text(damage)
    again = load_compiled([d], cache_dir=cache)
    assert again.ruleset is not None and again.ruleset.cache_hits == 0
    assert _shape(again) == _shape(compile_rules(load_rules([d])))
    assert load_compiled([d], cache_dir=cache).ruleset.cache_hits == 4  # type: ignore[union-attr]


def test_a_wrong_typed_entry_is_a_miss(rules_dir: Callable[..., Path], tmp_path: Path) -> None:
    d = rules_dir({"logon.yml": LOGON})
    cache = RuleCache(tmp_path / "c")
    load_compiled([d], cache_dir=cache.root)
    (entry,) = (e for e in cache.root.rglob("*.json") if "sets" not in e.parts)
    entry.write_text(entry.read_text().replace('"sql": "', '"sql": 1, "x": "'))
    assert cache.get((d / "logon.yml").read_bytes(), "p") is None


def test_a_version_change_invalidates(
    rules_dir: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = rules_dir({"logon.yml": LOGON})
    cache = tmp_path / "c"
    load_compiled([d], cache_dir=cache)
    assert load_compiled([d], cache_dir=cache).ruleset.cache_hits == 1  # type: ignore[union-attr]
    monkeypatch.setattr("ashiato.sigma.cache.version_key", lambda: "another pySigma")
    assert load_compiled([d], cache_dir=cache).ruleset.cache_hits == 0  # type: ignore[union-attr]


def test_no_cache_writes_nothing(
    rules_dir: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = rules_dir({"logon.yml": LOGON})
    load_compiled([d], cache_dir=tmp_path / "c", use_cache=False)
    assert not (tmp_path / "c").exists()
    monkeypatch.setenv("ASHIATO_CACHE_DIR", "off")
    load_compiled([d])
    assert not (tmp_path / "c").exists()


def test_an_id_collision_across_cached_files_is_reported(
    rules_dir: Callable[..., Path], tmp_path: Path
) -> None:
    d = rules_dir({"a.yml": LOGON, "b.yml": LOGON.replace("Network", "Other")})
    cache = tmp_path / "c"
    cold = load_compiled([d], cache_dir=cache)
    warm = load_compiled([d], cache_dir=cache)
    fresh = load_rules([d])
    assert warm.ruleset is not None and warm.ruleset.cache_hits == 2
    assert sorted(map(str, warm.ruleset.problems)) == sorted(map(str, fresh.problems))
    assert cold.ruleset is not None
    assert sorted(map(str, cold.ruleset.problems)) == sorted(map(str, fresh.problems))


def test_prefilter_drops_only_rules_that_cannot_match(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    rows = [
        win(1, 4624, TargetUserName="alice", LogonType="3"),
        win(2, 4625, TargetUserName="bob"),
        win(3, 4625, TargetUserName="bob"),
        win(4, 4688, NewProcessName="C:\\x\\evil.exe"),
    ]
    for r in rows:
        r["user"] = r["raw"].get("TargetUserName")
    con, table = store_con(rows)
    absent = LOGON.replace("4624", "4740").replace("Network logon", "Lockout").replace("a1", "b1")
    sysmon_only = SYSMON_RULE.replace("process_creation", "network_connection").replace("a2", "b2")
    d = rules_dir({**FILES, "absent.yml": absent, "sysmon_net.yml": sysmon_only})
    compiled = load_compiled([d])
    codes = present_codes(con, table)
    assert codes == {4624, 4625, 4688}
    kept = prefilter_rules(compiled, codes)
    titles = {r.meta.title for r in kept.rules}
    assert "Lockout" not in titles and "Sysmon process" in titles  # 4688 is process creation
    assert {"Network logon", "Keyword anywhere", "Failed logon"} <= titles
    assert len(kept.rules) == len(compiled.rules) - 2
    assert kept.correlations == compiled.correlations

    def key(fs: list[Any]) -> list[Any]:
        return sorted((f.detector, f.key, f.evidence) for f in fs)

    with_pre = run_rules(con, kept, table=table)
    without = run_rules(con, compiled, table=table)
    assert key(with_pre) == key(without)
    assert {f.title for f in with_pre} >= {"Network logon", "Many failed logons"}


def test_prefilter_on_an_absent_channel(store_con: Callable[..., Any], rules_dir: Any) -> None:
    con, table = store_con([win(1, 3, channel=SYSMON, DestinationIp="10.0.0.1")])
    compiled = load_compiled([rules_dir({"logon.yml": LOGON})])
    assert prefilter_rules(compiled, present_codes(con, table)).rules == []


def test_an_unwritable_cache_is_only_slower(rules_dir: Callable[..., Path], tmp_path: Path) -> None:
    d = rules_dir({"logon.yml": LOGON})
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    got = load_compiled([d], cache_dir=blocked / "c")
    assert [r.meta.title for r in got.rules] == ["Network logon"]


def test_cache_key_covers_every_module_the_compiler_imports() -> None:
    """An entry must change when code that decides it changes: every ``ashiato`` module that
    the listed compiler modules import is listed too."""
    import ast

    from ashiato.sigma import cache

    here = Path(cache.__file__).parent
    listed = {(here / name).resolve() for name in cache.COMPILER_MODULES}
    for path in list(listed):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ashiato."):
                parts = (node.module or "").split(".")[1:]
                target = (here.parent.joinpath(*parts)).with_suffix(".py")
                assert target.resolve() in listed, f"{path.name} imports {node.module}"


def test_an_unchanged_set_is_read_from_its_bundle(
    rules_dir: Callable[..., Path], tmp_path: Path
) -> None:
    """The second run over the same files reads one bundle, not each file's entry; a file
    rewritten with other content of the same size is seen (its change time moved)."""
    import shutil

    d = rules_dir(FILES)
    cache = tmp_path / "c"
    cold = load_compiled([d], cache_dir=cache)
    for entry_dir in cache.iterdir():  # only the bundle is left
        if entry_dir.name != "sets":
            shutil.rmtree(entry_dir)
    warm = load_compiled([d], cache_dir=cache)
    assert warm.ruleset is not None and warm.ruleset.cache_hits == 4
    assert _shape(warm) == _shape(cold)
    same_size = LOGON.replace("LogonType: 3", "LogonType: 4")
    assert len(same_size) == len(LOGON)
    (d / "logon.yml").write_text(same_size)
    edited = load_compiled([d], cache_dir=cache)
    (logon,) = [r for r in edited.rules if r.meta.title == "Network logon"]
    assert "= '4'" in logon.sql and "= '3'" not in logon.sql
    assert _shape(edited) == _shape(compile_rules(load_rules([d])))


def test_a_damaged_bundle_is_a_miss(rules_dir: Callable[..., Path], tmp_path: Path) -> None:
    d = rules_dir(FILES)
    cache = tmp_path / "c"
    cold = load_compiled([d], cache_dir=cache)
    (bundle,) = (cache / "sets").rglob("*.json")
    bundle.write_text('{"format": 2, "files": [], "entries": {"0": 1}, "fresh": []}')
    assert _shape(load_compiled([d], cache_dir=cache)) == _shape(cold)
    bundle.write_bytes(b"\x00garbage")
    assert _shape(load_compiled([d], cache_dir=cache)) == _shape(cold)
