"""lateral.hop_chain judged day by day: daily runs and a late day find what one batch run finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.detect.state import DetectorState
from ashiato.inventory import Inventory
from ashiato.store import StoreLayout
from tests.conftest import event, ts
from tests.detect.detectors.lateral.test_hop_chain import DET, _admin_routine
from tests.detect.foldcheck import runs, seen


def _growing_path() -> list[dict[str, object]]:
    rows = _admin_routine()  # e000000..e000017
    for t, a, b in [
        (ts(11, 3), "jp-tky-ws001", "th-bkk-ws001"),  # e000018
        (ts(12, 22), "th-bkk-ws001", "th-bkk-ws002"),  # e000019
        (ts(13, 5), "th-bkk-ws001", "th-bkk-ws002"),  # e000020: the same hop, past midnight
        (ts(14, 3), "th-bkk-ws002", "jp-dc-fs01"),  # e000021
    ]:
        rows.append(event(ts=t, user="adm-sato", src_host=a, dst_host=b))
    return rows


def test_a_path_growing_over_days_is_one_finding_however_the_days_come(
    tmp_path: Path, inventory: Inventory
) -> None:
    """ws001 → th-bkk-ws001 (day 11), on to th-bkk-ws002 late on day 12 with more of that hop
    past midnight (day 13), on to the file server on day 14: one 3-hop path, its four events,
    whether the days come at once, one a day, or day 12 after day 13."""
    got = runs(tmp_path, _growing_path(), inventory, DET, late=("2026-09-12", "2026-09-13"))
    (f,) = got["batch"].findings.to_pylist()
    assert f["reason"].startswith(
        "3-hop path jp-tky-ws001 → th-bkk-ws001 → th-bkk-ws002 → jp-dc-fs01, across sites"
    )
    assert f["evidence"] == ["e000018", "e000019", "e000020", "e000021"]
    assert f["evidence_count"] == 4
    assert (f["first_seen"], f["last_seen"]) == (ts(11, 3), ts(14, 3))
    assert "It went on from 2026-09-11 03:00 UTC to 2026-09-14 03:00 UTC" in f["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_runs_a_day_apart_read_the_arrivals_from_their_deltas(
    tmp_path: Path, inventory: Inventory
) -> None:
    """The arrivals table is keyed by day: no snapshot of it is written, each run reads the
    deltas of the days that still have rows (``Meta.live``); one run a day, and a late day,
    find what one batch run finds."""
    got = runs(
        tmp_path,
        _growing_path(),
        inventory,
        DET,
        late=("2026-09-12", "2026-09-13"),
        daily_runs=True,
    )
    assert got["batch"].findings.num_rows == 1
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
    ds = DetectorState(StoreLayout(tmp_path / "daily"), DET[0])
    meta = ds.meta()
    assert meta is not None and meta.watermark == "2026-09-14"
    assert not ds.snapshot_file("arrived").exists()
    assert ds.snapshot_file("acted").exists(), "tables without a day key keep their snapshot"
    # what the next run reads: the deltas from the first day with rows on (the earliest
    # arrivals are still within two weeks and a half of the last day)
    live = meta.live["arrived"]
    assert live == "2026-09-01"
    read = ds.live_deltas("arrived", meta)
    assert read is not None and [f.stem for f in read] == sorted(meta.days)


def test_stages_give_what_the_same_queries_give_inline(
    tmp_path: Path, inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stages (the day's link rows, paths, arrivals, day counts) are made once per slice
    and read by the query and the folds; built inline instead, the findings are the same."""
    from ashiato.detect.detectors.lateral import hop_chain

    rows = _growing_path()
    staged = runs(tmp_path / "staged", rows, inventory, DET)
    monkeypatch.setattr(hop_chain, "STAGES", {})
    inline = runs(tmp_path / "inline", rows, inventory, DET)
    assert staged["batch"].findings.num_rows == 1
    for how in ("batch", "daily"):
        assert seen(staged[how]) == seen(inline[how]), how
