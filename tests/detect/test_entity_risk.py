"""Entity risk: findings add their score to the entities they name, halved each week of age."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.entity_risk import entity_risk_table
from ashiato.detect.runner import detect
from ashiato.store import Store
from tests.conftest import event, ts
from tests.detect.test_incidents import _f


def test_decay_and_sum() -> None:
    fresh = _f("a", 20, ("adm", "ws1"), score=80, det="d1")
    old = _f("b", 6, ("adm",), score=80, det="d2")  # two weeks older: a quarter of the weight
    other = _f("c", 20, ("bob",), score=90, det="d1")
    t = entity_risk_table([fresh, old, other], as_of=ts(20) + timedelta(hours=1)).to_pylist()
    by = {(r["entity_type"], r["entity"]): r for r in t}
    assert by[("account", "adm")]["risk"] == 100.0  # 80 + 80/4
    assert by[("account", "adm")]["detectors"] == ["d1", "d2"]
    assert by[("host", "ws1")]["risk"] == 80.0
    assert [r["entity"] for r in t][:2] == ["adm", "bob"]


def test_detect_writes_it(inventory, write_events) -> None:
    root = write_events(
        [event(ts=ts(5, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")]
    )
    detect(root, inventory, detectors=["segmentation.policy_violation"])
    risk = Store(root).read_entity_risk().to_pylist()
    assert {(r["entity_type"], r["entity"]) for r in risk} >= {("account", "adm-sato")}
