"""Walk every registered detector: id is its path, documented, ATT&CK-mapped, golden-tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.detect.registry import DETECTORS, by_id
from ashiato.detect.spec import SEVERITIES

GOLDEN = Path(__file__).parent / "detectors"


@pytest.mark.parametrize("det", DETECTORS, ids=lambda d: d.SPEC.id)
def test_detector_contract(det) -> None:
    spec = det.SPEC
    assert det.__name__ == f"ashiato.detect.detectors.{spec.id}", "id must equal module path"
    assert det.__doc__ and len(det.__doc__.split()) > 10
    assert spec.severity in SEVERITIES
    assert spec.techniques and all(t.startswith("T") for t in spec.techniques)
    assert spec.needs
    for p in spec.params:
        assert p.description, f"{spec.id}: parameter {p.name} undocumented"
    assert callable(det.query) and callable(det.explain)
    golden = GOLDEN / (spec.id.replace(".", "/") + ".py")
    golden = golden.with_name("test_" + golden.name)
    assert golden.exists(), f"golden positive/negative tests missing: {golden}"
    assert by_id(spec.id) is det


def test_ids_unique() -> None:
    ids = [d.SPEC.id for d in DETECTORS]
    assert len(ids) == len(set(ids))
