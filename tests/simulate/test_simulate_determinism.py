"""Same arguments give byte-identical output; another seed gives another enterprise."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ashiato.simulate import SimulationSummary, simulate


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(sim: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    out, summary = sim
    again = simulate(tmp_path / "again", terminals=60, days=10, seed=7)
    assert _digest(out) == _digest(tmp_path / "again")
    assert again.windows_events == summary.windows_events


def test_other_seed_other_bytes(sim: tuple[Path, SimulationSummary], tmp_path: Path) -> None:
    out, _ = sim
    simulate(tmp_path / "other", terminals=60, days=10, seed=8)
    a, b = _digest(out), _digest(tmp_path / "other")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.startswith("logs/"))
    assert a["inventory/accounts.csv"] != b["inventory/accounts.csv"]
