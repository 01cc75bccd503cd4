"""lateral.hop_chain judged day by day: daily runs and a late day find what one batch run finds."""

from __future__ import annotations

from pathlib import Path

from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.detect.detectors.lateral.test_hop_chain import DET, _admin_routine
from tests.detect.foldcheck import runs, seen


def test_a_path_growing_over_days_is_one_finding_however_the_days_come(
    tmp_path: Path, inventory: Inventory
) -> None:
    """ws001 → th-bkk-ws001 (day 11), on to th-bkk-ws002 late on day 12 with more of that hop
    past midnight (day 13), on to the file server on day 14: one 3-hop path, its four events,
    whether the days come at once, one a day, or day 12 after day 13."""
    rows = _admin_routine()  # e000000..e000017
    for t, a, b in [
        (ts(11, 3), "jp-tky-ws001", "th-bkk-ws001"),  # e000018
        (ts(12, 22), "th-bkk-ws001", "th-bkk-ws002"),  # e000019
        (ts(13, 5), "th-bkk-ws001", "th-bkk-ws002"),  # e000020: the same hop, past midnight
        (ts(14, 3), "th-bkk-ws002", "jp-dc-fs01"),  # e000021
    ]:
        rows.append(event(ts=t, user="adm-sato", src_host=a, dst_host=b))
    got = runs(tmp_path, rows, inventory, DET, late=("2026-09-12", "2026-09-13"))
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
