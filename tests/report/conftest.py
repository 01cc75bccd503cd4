"""The simulated estate with every scenario, ingested and detected once, and c1's report written
once (HTML and PDF) for all tests here; the same approach as ``tests/investigate``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ashiato.detect.runner import detect
from ashiato.evaluate import evaluate
from ashiato.ingest import ingest
from ashiato.inventory import Inventory, load_inventory
from ashiato.report import ReportPaths, write_report

C1 = "c1-valid-admin-th-id-ph"
NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


@dataclass
class Built:
    store: Path
    inventory: Inventory
    incident: dict[str, str]  # campaign id -> incident id
    report: ReportPaths


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from ashiato.simulate import simulate

    root = tmp_path_factory.mktemp("report")
    simulate(root / "sim", terminals=120, days=30, seed=11, scenarios=["all"])
    inv = load_inventory(root / "sim" / "inventory")
    store = root / "store"
    ingest([str(root / "sim" / "logs")], store, workers=1)
    detect(store, inv)
    ev = evaluate(store, root / "sim" / "ground_truth.jsonl")
    incident = {c.id: c.incident_id for c in ev.campaigns if c.incident_id}
    out = root / "out"
    paths = write_report(
        store, inv, out / "report.html", incident[C1], pdf=out / "report.pdf", now=NOW
    )
    return Built(store, inv, incident, paths)
