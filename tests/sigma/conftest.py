"""Fixtures for Sigma tests: rules written to files, Windows events written into a store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ashiato.sigma import CompiledRuleSet, compile_rules, load_rules
from ashiato.sigma.run import HITS, rule_hits
from ashiato.sigma.step import relation
from ashiato.store import Store
from tests.conftest import event, ts

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def win(
    n: int, code: int, channel: str = "Security", minute: int = 0, **raw: str
) -> dict[str, Any]:
    """A Windows event e<n> with EventData ``raw`` (System keys added like ingest does)."""
    fields = {"Channel": channel, "EventID": str(code), "Computer": "WS1.corp.local", **raw}
    return event(
        event_id=f"e{n}",
        ts=ts(1, 12, minute),
        kind="other",
        event_code=code,
        log_host="ws1",
        raw=fields,
    )


def security_event(
    eid: str, hour: int, minute: int, code: int, user: str | None, ip: str | None = None
) -> dict[str, Any]:
    """A Security event as ingest stores it: TargetUserName (and IpAddress) in ``raw``."""
    raw = {"Channel": "Security", "EventID": str(code)}
    if ip is not None:
        raw["IpAddress"] = ip
    if user:
        raw["TargetUserName"] = user
    return event(
        event_id=eid,
        ts=ts(1, hour, minute),
        kind="other",
        event_code=code,
        user=user.lower() if user else None,
        src_ip=ip,
        raw=raw,
    )


@pytest.fixture
def rules_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write {name: yaml text} into a fresh rules directory."""

    def _write(files: dict[str, str]) -> Path:
        d = tmp_path / "rules"
        d.mkdir(exist_ok=True)
        for name, text in files.items():
            (d / name).write_text(text)
        return d

    return _write


@pytest.fixture
def store_con(write_events: Callable[[list[dict[str, Any]]], Path]) -> Iterator[Callable[..., Any]]:
    """Write rows into a store; return (raw DuckDB connection, events table name)."""
    opened: list[Any] = []

    def _open(rows: list[dict[str, Any]]) -> tuple[Any, str]:
        st = Store(write_events(rows))
        con = st.connect()
        opened.append(con)
        events = st.events(con)
        return con.con, relation(events)

    yield _open
    for con in opened:
        con.disconnect()


def compile_text(rules_dir: Callable[..., Path], text: str) -> CompiledRuleSet:
    compiled = compile_rules(load_rules([rules_dir({"r.yml": text})]))
    assert not compiled.skipped, compiled.skipped
    return compiled


def matches(con: Any, table: str, compiled: CompiledRuleSet) -> dict[str, set[str]]:
    """Rule title -> ids of the events it matches."""
    rule_hits(con, compiled.rules, table)
    rows = con.sql(f"SELECT r, event_id FROM {HITS}").arrow().read_all().to_pylist()
    out: dict[str, set[str]] = {r.meta.title: set() for r in compiled.rules}
    for row in rows:
        out[compiled.rules[row["r"]].meta.title].add(row["event_id"])
    return out


@pytest.fixture(autouse=True)
def _rule_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every Sigma test gets its own compiled-rule cache (never the user's)."""
    d = tmp_path / "rule-cache"
    monkeypatch.setenv("ASHIATO_CACHE_DIR", str(d))
    return d
