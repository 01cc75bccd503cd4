"""Golden samples for privilege.off_hours."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.off_hours"]


def _days_and_late_evenings() -> list[dict]:
    rows = []
    for d in range(1, 11):  # 2026-09-01 is a Tuesday
        rows.append(
            event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        )  # 10:00 in Tokyo
        rows.append(
            event(ts=ts(d, 10), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        )  # 19:00 in Tokyo: works late, every day
    return rows


def test_positive_night_from_bangkok(inventory, write_events) -> None:
    rows = _days_and_late_evenings()
    rows.append(
        event(ts=ts(14, 10), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # 17:00 in Bangkok: working hours
    rows.append(
        event(ts=ts(15, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # 00:00 in Bangkok
    rows.append(
        event(ts=ts(17, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # again: no longer a first
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert "outside TH-BKK's working hours" in f[0]["reason"] and "(night)" in f[0]["reason"]
    assert f[0]["score"] == 80.0  # 55, +15 file server, +10 night


def test_negative_habitual_late_work_and_unprivileged(inventory, write_events) -> None:
    rows = _days_and_late_evenings()
    rows.append(
        event(ts=ts(14, 11), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
    )  # 20:00 Tokyo: as in the baseline
    rows.append(
        event(ts=ts(15, 17), user="t.suzuki", src_ip="10.3.0.101", dst_host="jp-dc-fs01")
    )  # not privileged
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
