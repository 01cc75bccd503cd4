"""The simulated estate with every scenario, ingested and detected once, and c1's report written
once (HTML and PDF) for all tests here; the same approach as ``tests/investigate``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ashiato.inventory import Inventory
from ashiato.report import ReportPaths, write_report
from tests.estate import Estate

C1 = "c1-valid-admin-th-id-ph"
NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


@dataclass
class Built:
    store: Path
    inventory: Inventory
    incident: dict[str, str]  # campaign id -> incident id
    report: ReportPaths


@pytest.fixture(scope="session")
def built(estate: Estate) -> Built:
    """c1's report from the shared estate (``tests/estate.py``)."""
    store, inv, incident = estate.store, estate.inventory, estate.incident
    root = estate.root
    out = root / "out"
    paths = write_report(
        store, inv, out / "report.html", incident[C1], pdf=out / "report.pdf", now=NOW
    )
    return Built(store, inv, incident, paths)
