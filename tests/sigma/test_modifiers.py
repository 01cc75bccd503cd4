"""Every Sigma modifier the backend supports, each with matching and non-matching events."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import event, ts
from tests.sigma.conftest import compile_text, matches

b64 = base64.b64encode

# (name, detection lines under `sel:`, [(EventData of one event, should match)])
CASES: list[tuple[str, str, list[tuple[dict[str, str], bool]]]] = [
    ("equals", "F: Alice", [({"F": "ALICE"}, True), ({"F": "alice2"}, False)]),
    ("wildcards", "F: 'a*c?e'", [({"F": "ABXCDE"}, True), ({"F": "ace"}, False)]),
    (
        "contains",
        "F|contains: 'mimi%'",
        [({"F": "run MIMI%kat"}, True), ({"F": "mimikatz"}, False)],
    ),
    (
        "startswith",
        "F|startswith: 'C:\\Windows\\'",
        [({"F": "c:\\windows\\system32"}, True), ({"F": "D:\\windows\\x"}, False)],
    ),
    ("endswith", "F|endswith: '.exe'", [({"F": "A.EXE"}, True), ({"F": "aexe"}, False)]),
    (
        "all",
        "F|contains|all: [net, user]",
        [({"F": "NET USER x"}, True), ({"F": "net view"}, False)],
    ),
    (
        "re",
        "F|re: '^ab+c$'",
        [({"F": "abbc"}, True), ({"F": "ABBC"}, False), ({"F": "xabc"}, False)],
    ),
    ("re_i", "F|re|i: '^ab+c$'", [({"F": "ABBC"}, True), ({"F": "xabbc"}, False)]),
    ("re_m", "F|re|m: '^b$'", [({"F": "a\nb\nc"}, True), ({"F": "ab"}, False)]),
    ("re_s", "F|re|s: 'a.c'", [({"F": "a\nc"}, True), ({"F": "a\n\nc"}, False)]),
    ("re_quote", 'F|re: "it\'s"', [({"F": "it's"}, True), ({"F": "its"}, False)]),
    (
        "cidr16",
        "F|cidr: 10.1.0.0/16",
        [({"F": "10.1.2.3"}, True), ({"F": "10.10.2.3"}, False), ({"F": "110.1.2.3"}, False)],
    ),
    (
        "cidr20",
        "F|cidr: 192.168.16.0/20",
        [
            ({"F": "192.168.31.255"}, True),
            ({"F": "192.168.32.1"}, False),
            ({"F": "192.168.15.1"}, False),
        ],
    ),
    (
        "cidr6",
        "F|cidr: 2001:db8::/32",
        [({"F": "2001:db8::1"}, True), ({"F": "2001:db9::1"}, False)],
    ),
    (
        "windash",
        "F|windash|contains: ' -enc '",
        [({"F": "x /enc y"}, True), ({"F": "x \u2013enc y"}, True), ({"F": "x enc y"}, False)],
    ),
    ("base64", "F|base64: 'abc'", [({"F": "YWJj"}, True), ({"F": "YWJjZA"}, False)]),
    (
        "base64offset",
        "F|base64offset|contains: 'http'",
        [({"F": b64(b"xxhttp://a").decode()}, True), ({"F": b64(b"nothing").decode()}, False)],
    ),
    (
        "wide_base64offset",
        "F|wide|base64offset|contains: 'ping'",
        [
            ({"F": b64("ping -n 1".encode("utf-16le")).decode()}, True),
            ({"F": b64(b"ping -n 1").decode()}, False),
        ],
    ),
    ("exists", "F|exists: true", [({"F": ""}, True), ({"G": "x"}, False)]),
    ("not_exists", "F|exists: false", [({"G": "x"}, True), ({"F": "x"}, False)]),
    ("null", "F: null", [({"G": "x"}, True), ({"F": ""}, True), ({"F": "x"}, False)]),
    ("gt", "F|gt: 5", [({"F": "6"}, True), ({"F": "5"}, False), ({"F": "abc"}, False)]),
    ("gte", "F|gte: 5", [({"F": "5"}, True), ({"F": "4.5"}, False)]),
    ("lt", "F|lt: 5", [({"F": "-1"}, True), ({"F": "5"}, False)]),
    ("lte", "F|lte: 5", [({"F": "5"}, True), ({"F": "6"}, False)]),
    (
        "fieldref",
        "F|fieldref: G",
        [({"F": "Bob", "G": "BOB"}, True), ({"F": "bob", "G": "al"}, False), ({"F": "bob"}, False)],
    ),
    ("cased", "F|cased: Alice", [({"F": "Alice"}, True), ({"F": "alice"}, False)]),
    ("number", "F: 3", [({"F": "3"}, True), ({"F": "03"}, True), ({"F": "4"}, False)]),
    ("hex_number", "F: 0xC000006A", [({"F": "0xc000006a"}, True), ({"F": "0xc000006d"}, False)]),
    ("bool", "F: true", [({"F": "True"}, True), ({"F": "false"}, False)]),
    (
        "hour",
        "F|hour: 12",
        [({"F": "2026-09-01 12:30:00"}, True), ({"F": "2026-09-01 13:00:00"}, False)],
    ),
    ("list_or", "F: [a, b]", [({"F": "B"}, True), ({"F": "c"}, False)]),
    ("missing_field", "Nope: x", [({"F": "x"}, False)]),
]

NOT_CASE = (
    "not_missing",
    "  sel:\n    F: x\n  filt:\n    G: bad\n  condition: case and sel and not filt",
    [({"F": "x"}, True), ({"F": "x", "G": "BAD"}, False)],
)
KEYWORD_CASE = (
    "keywords",
    "  kw:\n    - mimikatz\n    - 'sekurlsa::*pass'\n    - '50%_Off'\n  condition: case and kw",
    [
        ({"F": "Invoke-MIMIKATZ"}, True),
        ({"G": "sekurlsa::logonpasswords"}, True),
        ({"F": "x"}, False),
        ({"F": "now 50%_OFF"}, True),  # % and _ are literal in a keyword
        ({"F": "now 50x_off 50%yoff"}, False),
    ],
)


def _rule(i: int, name: str, detection: str) -> str:
    body = (
        detection
        if "condition:" in detection
        else f"  sel:\n    {detection}\n  condition: case and sel"
    )
    return (
        f"title: '{name}'\nid: 00000000-0000-0000-0000-{i:012d}\nlevel: high\n"
        "logsource: {product: windows, service: security}\n"
        f"detection:\n  case:\n    Case: '{i}'\n{body}\n"
    )


def _fixture() -> tuple[str, list[dict[str, Any]], dict[str, set[str]]]:
    docs, rows, expected = [], [], {}
    for i, (name, detection, samples) in enumerate([*CASES, NOT_CASE, KEYWORD_CASE]):
        docs.append(_rule(i, name, detection))
        expected[name] = set()
        for j, (raw, hit) in enumerate(samples):
            eid = f"{name}-{j}"
            fields = {"Channel": "Security", "EventID": "4688", "Case": str(i), **raw}
            rows.append(
                event(event_id=eid, ts=ts(1, 12, j), kind="other", event_code=4688, raw=fields)
            )
            if hit:
                expected[name].add(eid)
    return "---\n".join(docs), rows, expected


def test_every_modifier_matches_exactly(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    text, rows, expected = _fixture()
    compiled = compile_text(rules_dir, text)
    con, table = store_con(rows)
    got = matches(con, table, compiled)
    wrong = {k: (sorted(got[k]), sorted(v)) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("logsource", "raw", "code", "hit"),
    [
        (
            "category: process_creation",
            {"Channel": "Security", "NewProcessName": "C:\\x\\cmd.exe"},
            4688,
            True,
        ),
        (
            "category: process_creation",
            {"Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\CMD.EXE"},
            1,
            True,
        ),
        (
            "category: process_creation",
            {"Channel": "Security", "NewProcessName": "C:\\x\\cmd.exe"},
            4689,
            False,
        ),
        ("service: sysmon", {"Channel": "Security", "Image": "C:\\cmd.exe"}, 1, False),
        (
            "service: sysmon",
            {"Channel": "microsoft-windows-sysmon/operational", "Image": "C:\\cmd.exe"},
            1,
            True,
        ),
    ],
)
def test_logsource_becomes_channel_and_event_id(
    rules_dir: Callable[..., Path],
    store_con: Callable[..., Any],
    logsource: str,
    raw: dict[str, str],
    code: int,
    hit: bool,
) -> None:
    text = (
        "title: cmd\nid: 10000000-0000-0000-0000-000000000001\n"
        f"logsource:\n  product: windows\n  {logsource}\n"
        "detection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel\n"
    )
    compiled = compile_text(rules_dir, text)
    con, table = store_con([event(event_id="e1", ts=ts(1), kind="other", event_code=code, raw=raw)])
    assert matches(con, table, compiled)["cmd"] == ({"e1"} if hit else set())
