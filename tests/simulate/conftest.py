"""Shared small simulations for the simulator tests (60 x 10; 120 x 30 with every scenario)."""

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


ALL = {"terminals": 120, "days": 30, "seed": 11}


@pytest.fixture(scope="session")
def all_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    """Every scenario over a month: long enough for a migration burst over a settled baseline."""
    out = tmp_path_factory.mktemp("all")
    return out, simulate(out, scenarios=["all"], **ALL)
