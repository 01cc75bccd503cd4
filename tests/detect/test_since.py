"""``detect --since``: new logs judged against the stored history leave the store exactly as a
full run over all the data would, and list only what is new."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ashiato.detect.runner import detect
from ashiato.ingest import ingest
from ashiato.inventory import load_inventory
from ashiato.simulate import simulate

SPLIT = "2026-09-16"


def _logs(root: Path, before: bool) -> list[str]:
    out = []
    for p in sorted((root / "logs").rglob("*")):
        if not p.is_file():
            continue
        day = p.name.split(".")[-2] if p.name.startswith("conn.") else p.stem[-10:]
        if (day < SPLIT) == before:
            out.append(str(p))
    return out


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("since")
    simulate(out, terminals=120, days=30, seed=11, scenarios=["all"])
    return out


def _rows(table):  # what an analyst sees of a finding, minus nothing
    cols = ["finding_id", "score", "first_seen", "last_seen", "evidence_count", "evidence"]
    return sorted(tuple(map(str, r.values())) for r in table.select(cols).to_pylist())


def test_since_run_equals_full_run(estate: Path, tmp_path: Path) -> None:
    inv = load_inventory(estate / "inventory")
    first, second = _logs(estate, True), _logs(estate, False)
    assert first and second
    full = tmp_path / "full"
    ingest(first + second, full, workers=1)
    whole = detect(full, inv)
    inc = tmp_path / "inc"
    ingest(first, inc, workers=1)
    early = detect(inc, inv)
    ingest(second, inc, workers=1)
    since = datetime.fromisoformat(SPLIT).replace(tzinfo=UTC)
    late = detect(inc, inv, since=since)
    assert whole.findings.num_rows > 10 and early.findings.num_rows > 0
    assert _rows(late.findings) == _rows(whole.findings)
    assert (
        late.incidents.column("incident_id").to_pylist()
        == whole.incidents.column("incident_id").to_pylist()
    )
    # new = reaches past the split and was not in the store in that form before
    assert late.new_findings is not None and late.new_findings.num_rows > 0
    old = {r[0]: r for r in _rows(early.findings)}
    for r in late.new_findings.to_pylist():
        assert r["last_seen"] >= since
        assert r["finding_id"] not in old or old[r["finding_id"]] != next(
            x for x in _rows(late.findings) if x[0] == r["finding_id"]
        )
    unchanged = [r for r in _rows(late.findings) if old.get(r[0]) == r]
    assert len(unchanged) + late.new_findings.num_rows <= late.findings.num_rows
    assert {r[0] for r in unchanged}.isdisjoint(late.new_findings.column("finding_id").to_pylist())
