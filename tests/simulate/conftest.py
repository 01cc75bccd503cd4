"""Shared small simulations for the simulator tests (60 terminals x 10 days, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.simulate import SimulationSummary, simulate

SMALL = {"terminals": 60, "days": 10}


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    """One small simulation with the default seed, shared by every test that only reads it."""
    out = tmp_path_factory.mktemp("sim")
    calls: list[tuple[int, int]] = []
    summary = simulate(out, seed=7, progress=lambda d, t: calls.append((d, t)), **SMALL)
    assert calls[-1] == (240, 240) and len(calls) == 240
    return out, summary
