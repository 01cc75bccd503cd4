"""Simulated enterprise with planted attack campaigns: the product's demo and test bed.

``simulate(out, terminals=..., days=...)`` writes an inventory, Winlogbeat/ECS Windows Security
logs, Zeek conn.log files and ``ground_truth.jsonl`` (see ``core`` for the layout).
"""

from __future__ import annotations

from ashiato.simulate.core import SimulationSummary, simulate
from ashiato.simulate.scenarios import DEFAULT_SCENARIOS, SCENARIOS

__all__ = ["DEFAULT_SCENARIOS", "SCENARIOS", "SimulationSummary", "simulate"]
