"""Golden samples for lateral.hop_chain."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["lateral.hop_chain"]


def _admin_routine() -> list[dict]:
    # the admin works from the Tokyo workstation, and always via the jump host jp-dc-dc01
    rows = []
    for d in range(1, 10):
        rows.append(
            event(
                ts=ts(d, 1),
                user="adm-sato",
                src_host="jp-tky-ws001",
                dst_host="jp-dc-dc01",
                logon_type=10,
            )
        )
        rows.append(
            event(ts=ts(d, 2), user="adm-sato", src_host="jp-dc-dc01", dst_host="jp-dc-fs01")
        )
    return rows


def test_positive_slow_hops(inventory, write_events) -> None:
    rows = _admin_routine()
    # day 11: the credential lands on a Bangkok workstation; day 14: from there on to the fs
    rows.append(
        event(ts=ts(11, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(
        event(ts=ts(14, 3), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    )
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert "logged on to th-bkk-ws001 (from jp-tky-ws001)" in f[0]["reason"]
    assert "on to jp-dc-fs01" in f[0]["reason"] and "across sites" in f[0]["reason"]
    assert f[0]["evidence"] == ["e000018", "e000019"]
    assert f[0]["score"] == 95.0  # 60, +15 privileged, +10 file server, +10 cross-site


def test_negative_jump_host_routine_and_too_late(inventory, write_events) -> None:
    rows = _admin_routine()
    rep = detect(write_events(rows), inventory, detectors=DET)
    assert rep.findings.num_rows == 0  # the jump host hop was learnt in the warm-up
    # arriving on a host and leaving from it 10 days later is outside the window
    rows.append(
        event(ts=ts(10, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws002")
    )
    rows.append(
        event(ts=ts(20, 3), user="adm-sato", src_host="th-bkk-ws002", dst_host="jp-dc-fs01")
    )
    # machine accounts do not hop
    rows.append(
        event(ts=ts(12, 3), user="th-bkk-ws001$", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(
        event(ts=ts(12, 4), user="th-bkk-ws001$", src_host="th-bkk-ws001", dst_host="jp-dc-dc01")
    )
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
