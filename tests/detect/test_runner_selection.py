"""Which detectors a detect run runs: None means all, an empty list none (Sigma rules only)."""

from __future__ import annotations

from ashiato.detect.registry import DETECTORS
from ashiato.detect.runner import detect
from tests.conftest import event, ts


def _rows() -> list[dict]:
    return [event(ts=ts(5, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")]


def test_none_runs_every_detector(inventory, write_events) -> None:
    rep = detect(write_events(_rows()), inventory)
    assert {r.detector for r in rep.runs} == {d.SPEC.id for d in DETECTORS}


def test_empty_list_runs_no_detector(inventory, write_events) -> None:
    rep = detect(write_events(_rows()), inventory, detectors=[])
    assert rep.runs == ()
    assert rep.findings.num_rows == 0


def test_named_detector_runs_alone(inventory, write_events) -> None:
    rep = detect(write_events(_rows()), inventory, detectors=["segmentation.policy_violation"])
    assert [r.detector for r in rep.runs] == ["segmentation.policy_violation"]
    assert rep.findings.num_rows == 1


def test_an_engine_error_names_the_detector(write_events, monkeypatch) -> None:
    """Out of memory in one detector's query (seen at 100M events) must say which detector."""
    import types

    import pytest

    from ashiato.detect import runner
    from ashiato.detect.detectors.fanout import failure_burst
    from ashiato.errors import DetectError
    from tests.conftest import event, ts

    def boom(ctx):  # type: ignore[no-untyped-def]
        return ctx.events.filter(ctx.events.ts.cast("int64") > "x")  # a type error in the engine

    broken = types.SimpleNamespace(
        SPEC=failure_burst.SPEC, query=boom, fold=failure_burst.fold, explain=None
    )
    monkeypatch.setattr(runner, "DETECTORS", (broken,))
    monkeypatch.setenv("ASHIATO_CACHE_DIR", "off")  # the real detector's SQL is kept: build
    # a kind the detector needs: a store without one skips it, never compiling its query
    root = write_events(
        [event(ts=ts(3), kind="logon_failure", outcome="failure", user="a", src_ip="10.1.0.101")]
    )
    with pytest.raises(DetectError, match=r"detector fanout\.failure_burst failed"):
        runner.detect(root, None)
