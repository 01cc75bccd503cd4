"""Golden samples for exfil.outbound_volume."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["exfil.outbound_volume"]
MB = 1_000_000


def _flow(t, src: str, dst: str, out: int) -> dict:  # type: ignore[no-untyped-def]
    return event(
        ts=t,
        kind="network_flow",
        event_code=None,
        logon_type=None,
        outcome="unknown",
        src_ip=src,
        dst_ip=dst,
        dst_port=443,
        protocol="tcp",
        bytes_out=out,
    )


def _browsing() -> list[dict]:
    return [
        _flow(ts(d, h), "10.1.0.101", "203.0.113.10", 2 * MB)
        for d in range(1, 12)
        for h in (1, 3, 5)
    ]


def test_positive_upload_to_new_destination(inventory, write_events) -> None:
    up = [
        _flow(ts(12, 14) + timedelta(minutes=m), "10.1.0.101", "198.51.100.77", 400 * MB)
        for m in range(0, 50, 10)
    ]
    rep = detect(write_events(_browsing() + up), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["entities"]["hosts"] == ["jp-tky-ws001"]  # resolved from the inventory
    assert "sent 2.0 GB" in f[0]["reason"] and "largest earlier day was 6.0 MB" in f[0]["reason"]
    assert "Never used before: 198.51.100.77" in f[0]["reason"]
    assert f[0]["evidence_count"] == 5
    # without an inventory the same upload is still found (by address)
    assert detect(write_events(_browsing() + up), None, detectors=DET).findings.num_rows == 1


def test_negative_internal_backup_and_steady_host(inventory, write_events) -> None:
    rows = _browsing()
    # a nightly backup of 50 GB to the data centre: internal, not exfiltration
    rows += [_flow(ts(d, 20), "10.1.0.101", "10.2.0.20", 50_000 * MB) for d in range(1, 13)]
    rows += [_flow(ts(12, 20), "10.1.0.101", "172.20.1.1", 50_000 * MB)]  # RFC 1918 too
    # a host that always uploads 1 GB a day keeps doing so
    rows += [_flow(ts(d, 9), "10.3.0.101", "203.0.113.99", 1_000 * MB) for d in range(1, 13)]
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_judged_against_its_own_usual_day_whatever_the_destination(inventory, write_events) -> None:
    # A cloud address every host uses daily; one host sends 6 MB most days and once sent 1 GB.
    # Its 3 GB day is 3x that one big day (not enough alone) but 500x its usual day: flagged.
    rows = _browsing()  # jp-tky-ws001: 6 MB a day to 203.0.113.10
    rows += [_flow(ts(d, 9), "10.3.0.102", "203.0.113.10", 20 * MB) for d in range(1, 13)]
    rows += [_flow(ts(4, 9), "10.1.0.101", "203.0.113.10", 1_000 * MB)]
    rows += [_flow(ts(12, 16), "10.1.0.101", "203.0.113.10", 3_000 * MB)]
    (f,) = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert f["title"] == "jp-tky-ws001 sent 3.0 GB out"
    assert "largest earlier day was 1.0 GB and its median active day 6.0 MB" in f["reason"]
    assert "Never used before" not in f["reason"]
    # with the median check off, the one big day hides it
    off = {"exfil.outbound_volume": {"median_ratio": 0}}
    assert detect(write_events(rows), inventory, detectors=DET, params=off).findings.num_rows == 0


def test_the_usual_day_is_the_last_active_days_in_daily_runs(tmp_path) -> None:
    """Six 500 MB days, then five 6 MB days: with history_days 5 the host's usual day is 6 MB
    (the last five active days, kept as a ring), so 2 GB on day 12 is flagged (100 x); over all
    eleven days the median would be 500 MB and nothing flagged. The 2 GB destination was used on
    day 3 (late in the late run), so only the other one is new."""
    from tests.detect.foldcheck import runs, seen

    rows = [_flow(ts(d, 9), "10.1.0.101", "203.0.113.10", 500 * MB) for d in range(1, 7)]
    rows += [_flow(ts(d, 9), "10.1.0.101", "203.0.113.10", 6 * MB) for d in range(7, 12)]
    rows += [_flow(ts(3, 10), "10.1.0.101", "198.51.100.76", MB)]
    rows += [_flow(ts(12, 14), "10.1.0.101", "198.51.100.76", 1000 * MB)]
    rows += [_flow(ts(12, 15), "10.1.0.101", "198.51.100.77", 1000 * MB)]
    params = {DET[0]: {"history_days": 5, "min_history": 5}}
    got = runs(tmp_path, rows, None, DET, params, late=("2026-09-03", "2026-09-12"))
    (f,) = got["batch"].findings.to_pylist()
    assert "its largest earlier day was 501.0 MB and its median active day 6.0 MB" in f["reason"]
    assert "Never used before: 198.51.100.77." in f["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
