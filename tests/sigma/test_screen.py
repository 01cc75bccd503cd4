"""The string screen: rules whose strings no event contains are set aside, and never a rule
that matches (``literals.rule_needs`` read off the rule, ``screen.possible`` over the store)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.sigma import compile_rules, load_rules
from ashiato.sigma import run as sigma_run
from ashiato.sigma.screen import possible, specialize
from tests.sigma.conftest import SYSMON, compile_text, matches, win

RULE = """\
title: t
logsource: {{product: windows, {source}}}
detection:
  a: {{CommandLine|contains: ['Mimikatz', 'sekurlsa']}}
  b: {{Image|endswith: '\\\\rundll32.exe'}}
  c: {{CommandLine|re: 'abc+d'}}
  d: {{User: 'NT AUTHORITY\\\\SYSTEM'}}
  e: {{CommandLine|contains|all: ['-enc', 'hidden']}}
  f: {{Image: '*\\\\a*\\\\wininit.exe'}}
  g: {{LogonType: 3}}
  k: ['evil.example']
  condition: {condition}
"""


@pytest.mark.parametrize(
    ("source", "condition", "needs"),
    [
        ("category: process_creation", "a", [{"mimikatz", "sekurlsa"}]),
        ("category: process_creation", "a and b", [{"mimikatz", "sekurlsa"}, {"\\rundll32.exe"}]),
        ("category: process_creation", "a or b", [{"mimikatz", "sekurlsa", "\\rundll32.exe"}]),
        ("category: process_creation", "a or c", []),  # a regex gives no string
        ("category: process_creation", "not a", []),
        ("category: process_creation", "b and not a", [{"\\rundll32.exe"}]),
        ("category: process_creation", "e", [{"hidden"}, {"-enc"}]),  # |all: each one
        ("category: process_creation", "f", [{"\\wininit.exe"}]),  # the longest plain run
        ("category: process_creation", "d", [{"nt authority\\system"}]),
        ("service: security", "g", []),  # numbers give none
        ("service: security", "k", [{"evil.example"}]),  # keywords search the whole text
        ("service: security", "k and g", [{"evil.example"}]),  # not the channel's name
    ],
)
def test_rule_needs(
    rules_dir: Callable[..., Path], source: str, condition: str, needs: list[set[str]]
) -> None:
    (rule,) = compile_text(rules_dir, RULE.format(source=source, condition=condition)).rules
    assert sorted(map(set, rule.needs), key=sorted) == sorted(needs, key=sorted)


def test_sets_aside_only_rules_whose_strings_are_absent(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    rules = {
        f"r{i}.yml": f"title: r{i}\nlogsource: {{product: windows, category: process_creation}}\n"
        f"detection:\n  s: {sel}\n  condition: s\n"
        for i, sel in enumerate(
            [
                "{CommandLine|contains: sekurlsa}",  # present in a Sysmon 1 row
                "{CommandLine|contains: 'procdump -ma'}",  # nowhere
                "{Image|endswith: '\\notepad.exe'}",  # only in a Sysmon 3 row
                "{CommandLine|re: 'x+'}",  # no strings known: kept
            ]
        )
    }
    compiled = compile_rules(load_rules([rules_dir(rules)]))
    con, table = store_con(
        [
            win(1, 1, SYSMON, CommandLine="m.exe SEKURLSA::logonpasswords", Image="C:\\m.exe"),
            win(2, 3, SYSMON, Image="C:\\Windows\\notepad.exe"),
        ]
    )
    kept = {r.meta.title for r in possible(con, compiled.rules, table)}
    assert kept == {"r0", "r3"}


WORDS = ["alpha", "Bravo", "charlie", "DELTA", "echo\\x", "foxtrot.exe", "golf golf", "hotel%"]
ABSENT = ["india", "Juliett.dll", "kilo\\path"]
"""Words rules use and no event holds."""
FIELDS = ["CommandLine", "Image", "ParentImage", "TargetFilename"]
MODIFIERS = ["", "|contains", "|startswith", "|endswith", "|contains|all", "|cased"]


def _random_rule(rng: random.Random, i: int) -> str:
    """A process-creation rule of random selections, modifiers, ``not`` and ``or``."""
    sels = {}
    for name in ("s1", "s2", "s3"):
        field = rng.choice(FIELDS)
        mod = rng.choice(MODIFIERS)
        values = rng.sample(WORDS + ABSENT, rng.randint(1, 3))
        if mod in ("", "|cased") and rng.random() < 0.5:
            values = [f"*{v}*" for v in values]
        quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        sels[name] = f"{{{field}{mod}: [{quoted}]}}"
    cond = rng.choice(
        ["s1", "s1 and s2", "s1 or s2", "s1 and not s2", "(s1 or s2) and s3", "1 of s*"]
    )
    body = "".join(f"  {k}: {v}\n" for k, v in sels.items())
    return (
        f"title: r{i}\nlogsource: {{product: windows, category: process_creation}}\n"
        f"detection:\n{body}  condition: {cond}\n"
    )


def _random_event(rng: random.Random, n: int) -> dict[str, Any]:
    raw = {
        f: " ".join(rng.choice([*WORDS, w.upper()]) for w in rng.sample(WORDS, 2))
        for f in rng.sample(FIELDS, rng.randint(1, len(FIELDS)))
    }
    return win(n, rng.choice([1, 4688, 3]), rng.choice([SYSMON, "Security"]), **raw)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_screen_never_sets_aside_a_matching_rule(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any], tmp_path: Path, seed: int
) -> None:
    """Random rules over random events: every rule that matches an event passes the screen,
    and the run's findings are the same with and without it, and whether the events are read
    from memory (a small store), from the store's files, or from a local copy of those."""
    rng = random.Random(seed)
    compiled = compile_rules(
        load_rules([rules_dir({f"r{i}.yml": _random_rule(rng, i) for i in range(40)})])
    )
    assert not compiled.skipped, compiled.skipped[:2]
    con, table = store_con([_random_event(rng, n) for n in range(80)])
    matched = {t for t, ids in matches(con, table, compiled).items() if ids}
    kept = {r.meta.title for r in possible(con, compiled.rules, table)}
    assert matched <= kept
    assert len(kept) < len(compiled.rules)  # the screen did set some aside
    glob = (tmp_path / "store" / "events" / "day=*" / "*.parquet").as_posix()
    files = f"(SELECT * EXCLUDE (day) FROM read_parquet('{glob}', hive_partitioning = true))"

    def run(source: str = table) -> list[tuple[str, str, int]]:
        found = sigma_run.run_rules(con, compiled, table=source)
        return sorted((f.detector, f.key, f.evidence_count) for f in found)

    with_screen = run()
    copied = run(files)  # read from files: copied into the scratch database first
    sigma_run.SCREEN = False
    try:
        without = run()
    finally:
        sigma_run.SCREEN = True
    local_rows = sigma_run.LOCAL_ROWS
    sigma_run.LOCAL_ROWS = 0  # read the store's files throughout, as over a large store
    try:
        from_files = run(files)
    finally:
        sigma_run.LOCAL_ROWS = local_rows
    assert with_screen == without == copied == from_files
    assert with_screen  # some rules did fire


def _rule(sql: str) -> Any:
    from ashiato.sigma.compile import CompiledRule, RuleMeta
    from ashiato.sigma.literals import atom_strings

    meta = RuleMeta("k", "sigma:k", "t", "low", "", (), "p")
    return CompiledRule(
        meta,
        sql,
        None,
        (),
        True,
        0.0,
        keys=("lower.CommandLine",),
        strings=tuple(atom_strings(sql)),
    )


@pytest.mark.parametrize(
    ("sql", "seen", "expected"),
    [
        (  # an absent alternative is dropped, an absent test under NOT is false
            "\"lower.Channel\" = 'security' AND (contains(\"lower.CommandLine\", 'aaaa') OR "
            "contains(\"lower.CommandLine\", 'bbbb')) AND NOT COALESCE("
            'ends_with(COALESCE("lower.Image", "lower.NewProcessName"), \'cccc\'), false)',
            {"security", "aaaa"},
            "\"lower.Channel\" = 'security' AND (contains(\"lower.CommandLine\", 'aaaa')) "
            "AND NOT COALESCE(false, false)",
        ),
        (  # every alternative absent: the rule cannot match
            "\"lower.Channel\" = 'security' AND (contains(\"lower.CommandLine\", 'aaaa') OR "
            "starts_with(\"raw.CommandLine\", 'BBBB'))",
            {"security"},
            None,
        ),
        (  # AND binds tighter than OR: "x AND false OR y" keeps its y
            "\"lower.a\" = 'xxxx' AND \"lower.b\" = 'yyyy' OR \"lower.c\" = 'zzzz'",
            {"xxxx", "zzzz"},
            "\"lower.a\" = 'xxxx' AND false OR \"lower.c\" = 'zzzz'",
        ),
        (  # a cased test is screened by its lower-cased literal; short ones are left alone
            "contains(\"raw.CommandLine\", 'Mimi''Katz') OR \"lower.LogonType\" = '3'",
            {"mimi'katz"},
            "contains(\"raw.CommandLine\", 'Mimi''Katz') OR \"lower.LogonType\" = '3'",
        ),
        (
            "contains(\"raw.CommandLine\", 'Mimi''Katz') OR \"lower.LogonType\" = '3'",
            set(),
            "\"lower.LogonType\" = '3'",
        ),
    ],
)
def test_specialize(sql: str, seen: set[str], expected: str | None) -> None:
    got = specialize(_rule(sql), seen)
    assert (None if got is None else got.sql) == expected
