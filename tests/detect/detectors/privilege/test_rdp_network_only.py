"""Golden samples for privilege.rdp_network_only.

Hard negatives: an RDP session by an account that had an interactive logon before, or on a
workstation, or with too little history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ashiato.detect.detectors.privilege import rdp_network_only
from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.detect.detectors.privilege.misuse_helpers import Writer, run_det
from tests.detect.foldcheck import runs, seen


def _network(user: str, src: str = "10.1.0.101") -> list[dict[str, Any]]:
    return [
        event(ts=ts(d, h), user=user, src_ip=src, dst_host="jp-dc-fs01", logon_type=3)
        for d in range(1, 11)
        for h in (1, 6)
    ]  # 20 network logons over 10 days


def test_rdp_positive_network_only_account(inventory: Inventory, write_events: Writer) -> None:
    rows = _network("t.suzuki")
    rows.append(
        event(
            ts=ts(12, 3), user="t.suzuki", src_ip="10.3.0.101", dst_host="jp-dc-fs01",
            logon_type=10, event_id="rdp",
        )
    )  # fmt: skip
    f = run_det(write_events(rows), inventory, rdp_network_only.SPEC.id)
    assert len(f) == 1
    assert f[0]["evidence"] == ["rdp"]
    assert f[0]["score"] == 80.0  # 65, +10 file server, +5 RDP
    assert (
        "human account t.suzuki opened an RDP session on jp-dc-fs01 (file-server) at "
        "2026-09-12 03:00 UTC from th-bkk-ws001, 10.3.0.101; all 20 of its logons before were "
        "network logons (type 3), on 10 day(s) since 2026-09-01." in f[0]["reason"]
    )


def test_rdp_negatives(inventory: Inventory, write_events: Writer) -> None:
    rows = _network("t.suzuki") + _network("s.chai", "10.3.0.101") + _network("adm-sato")
    rows.append(event(ts=ts(3, 1), user="s.chai", dst_host="th-bkk-ws001", logon_type=2))
    rows.append(  # had an interactive logon before (on its desk)
        event(ts=ts(12, 3), user="s.chai", dst_host="jp-dc-fs01", logon_type=10)
    )
    rows.append(  # RDP to a workstation: help-desk work
        event(ts=ts(12, 3), user="adm-sato", dst_host="jp-tky-ws001", logon_type=10)
    )
    rows += [
        event(ts=ts(10, h), user="n.newhire", dst_host="jp-dc-fs01", logon_type=3)
        for h in range(20)
    ]  # enough logons but one day of history
    rows.append(event(ts=ts(12, 3), user="n.newhire", dst_host="jp-dc-fs01", logon_type=10))
    rows.append(  # a failed RDP logon is no session
        event(
            ts=ts(12, 3), user="t.suzuki", dst_host="jp-dc-fs01", logon_type=10,
            kind="logon_failure", outcome="failure",
        )
    )  # fmt: skip
    assert run_det(write_events(rows), inventory, rdp_network_only.SPEC.id) == []


def test_rdp_day_by_day_equals_batch(tmp_path: Path, inventory: Inventory) -> None:
    """The baseline is the days before: daily runs, and s.chai's interactive logon of day 3
    delivered only after day 12 was judged, leave what one batch run leaves."""
    rows = _network("t.suzuki") + _network("s.chai", "10.3.0.101")
    rows.append(event(ts=ts(3, 1), user="s.chai", dst_host="th-bkk-ws001", logon_type=2))
    for user in ("t.suzuki", "s.chai"):
        rows.append(
            event(
                ts=ts(12, 3), user=user, src_ip="10.3.0.101", dst_host="jp-dc-fs01",
                logon_type=10, event_id=f"rdp-{user}",
            )
        )  # fmt: skip
    rows.append(event(ts=ts(13, 3), user="t.suzuki", dst_host="jp-dc-db01", logon_type=10))
    got = runs(
        tmp_path, rows, inventory, [rdp_network_only.SPEC.id], late=("2026-09-03", "2026-09-12")
    )
    batch = got["batch"].findings.to_pylist()
    assert [f["evidence"] for f in batch] == [["rdp-t.suzuki"]]
    assert "all 20 of its logons before" in batch[0]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
