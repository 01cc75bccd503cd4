"""Golden samples for privilege.service_account_interactive."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.service_account_interactive"]


def test_positive_rdp_and_explicit_credentials(inventory, write_events) -> None:
    rows = [
        event(
            ts=ts(9, 2),
            user="svc-backup",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            logon_type=10,
        ),
        event(
            ts=ts(9, 2, 5),
            user="svc-backup",
            kind="explicit_credentials",
            event_code=4648,
            src_host="th-bkk-ws001",
            dst_host="jp-dc-dc01",
            logon_type=None,
        ),
    ]
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert "RDP, explicit credentials on a workstation" in f[0]["reason"]
    assert f[0]["evidence"] == ["e000000", "e000001"]
    assert f[0]["score"] == 89.0  # 70, +15 for RDP, +2 per destination


def test_negative_service_logons_and_humans(inventory, write_events) -> None:
    rows = [
        event(
            ts=ts(9, 2), user="svc-backup", src_ip="10.2.0.10", dst_host="jp-dc-fs01", logon_type=3
        ),
        event(ts=ts(9, 2), user="svc-backup", dst_host="jp-dc-fs01", logon_type=5),
        event(ts=ts(9, 3), user="t.suzuki", dst_host="jp-tky-ws001", logon_type=2),
        event(
            ts=ts(9, 4),
            user="svc-backup",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            logon_type=10,
            kind="logon_failure",
            outcome="failure",
        ),
    ]
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
