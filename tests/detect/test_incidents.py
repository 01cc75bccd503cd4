"""Incident grouping: shared actors within the gap join; shared destinations do not."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.incidents import group, incidents_table, risk
from ashiato.detect.spec import Finding
from tests.conftest import ts


def _f(key: str, day: int, actors: tuple[str, ...], score: float = 50, det: str = "a") -> Finding:
    return Finding(
        detector=det,
        detector_version="1",
        title=key,
        severity="high",
        score=score,
        techniques=("T1078",),
        first_seen=ts(day),
        last_seen=ts(day) + timedelta(hours=1),
        accounts=actors[:1],
        hosts=("jp-dc-dc01",),
        sites=(),
        ips=(),
        reason=key,
        evidence=(key,),
        evidence_count=1,
        key=key,
        actors=actors,
    )


def test_group_by_actor_and_time() -> None:
    a1 = _f("a1", 1, ("adm", "ws1"))
    a2 = _f("a2", 5, ("adm", "ws2"))  # same account, within 7 days
    a3 = _f("a3", 9, ("x", "ws2"))  # linked to a2 through ws2
    b = _f("b", 2, ("bob",))  # same destination host only: separate
    late = _f("late", 30, ("adm",))  # same account, weeks later: separate
    groups = sorted(sorted(f.key for f in g) for g in group([a1, a2, a3, b, late]))
    assert groups == [["a1", "a2", "a3"], ["b"], ["late"]]


def test_risk_prefers_independent_detectors() -> None:
    two_kinds = [_f("x", 1, ("a",), 60, "d1"), _f("y", 1, ("a",), 60, "d2")]
    one_kind = [_f(f"z{i}", 1, ("a",), 60, "d1") for i in range(4)]
    assert risk(two_kinds) > risk(one_kind)


def test_table_ranked() -> None:
    t = incidents_table([_f("lo", 1, ("a",), 20), _f("hi", 1, ("b",), 90)])
    assert t.column("risk").to_pylist() == sorted(t.column("risk").to_pylist(), reverse=True)
    assert t.num_rows == 2 and t.column("status").to_pylist() == ["new", "new"]
