"""The Sigma pass's memory limit: a start from the machine, raised when a statement runs out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.sigma import memory
from ashiato.sigma.run import run_rules
from tests.sigma.conftest import compile_text, win

GIB = 1 << 30


def test_budget_scales_with_the_machine_and_what_is_free() -> None:
    assert memory.budget(24 * GIB, 20 * GIB) == (384 * memory.MIB, 6 * GIB)
    assert memory.budget(24 * GIB, 2 * GIB) == (384 * memory.MIB, 1 * GIB)  # busy machine
    assert memory.budget(1 * GIB, 1 * GIB) == (64 * memory.MIB, 256 * memory.MIB)
    start, cap = memory.budget(512 * GIB, 512 * GIB)
    assert start == memory.MAX_START and cap == 128 * GIB
    start, cap = memory.budget()  # this machine: sane whatever it is
    assert memory.MIN_START <= start <= cap and cap >= memory.MIN_CAP


@pytest.mark.parametrize(
    ("text", "size"),
    [("64MB", 64 * 10**6), ("1.8 GiB", int(1.8 * GIB)), ("512KiB", 512 * 1024), ("100", 100)],
)
def test_parse_size_reads_duckdb_units(text: str, size: int) -> None:
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-"])
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        memory.parse_size(text)


WIDE = """
title: Wide {i}
id: 5b0f4c1e-0000-4000-8000-{i:012d}
logsource: {{product: windows, service: security}}
detection:
  selection:
    EventID: 4624
    Field{i}|contains: 'value'
  condition: selection
level: low
"""


def test_a_pass_that_runs_out_of_memory_raises_its_limit_and_finishes(
    rules_dir: Callable[..., Path], store_con: Callable[..., Any]
) -> None:
    """Under a limit far too small for the flattened table, the pass raises the limit and
    gives the same findings as under the machine's; the raises are reported."""
    fields = {f"Field{i}": f"some value {i} " * 20 for i in range(60)}
    rows = [win(n, 4624, minute=n % 50, TargetUserName=f"u{n % 7}", **fields) for n in range(3000)]
    for r in rows:
        r["user"] = r["raw"]["TargetUserName"]
    con, table = store_con(rows)
    compiled = compile_text(rules_dir, "---\n".join(WIDE.format(i=i) for i in range(60)))

    def summary(found: list[Any]) -> list[tuple[Any, ...]]:
        return sorted((f.title, f.key, f.evidence_count, f.evidence) for f in found)

    roomy: dict[str, Any] = {}
    expected = summary(run_rules(con, compiled, table=table, stats=roomy))
    assert len(expected) == 60 * 7 and roomy["memory_raised"] == []
    tight: dict[str, Any] = {}
    assert summary(run_rules(con, compiled, table=table, memory_limit="2MB", stats=tight)) == (
        expected
    )
    assert tight["memory_raised"] and "Out of Memory" in tight["memory_raised"][0]
    assert tight["memory_limit_end"] > tight["memory_limit_start"] == 2 * 10**6
    setting = con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert memory.parse_size(setting) > 2 * 10**6  # the connection's own limit is back
