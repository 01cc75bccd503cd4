"""Golden samples for fanout.credential_fanout."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["fanout.credential_fanout"]


def _helpdesk_history() -> list[dict]:
    # a help-desk account reaches 30 workstations in one hour every day: its normal
    return [
        event(
            ts=ts(d, 2) + timedelta(minutes=i),
            user="hd-tan",
            src_ip="10.1.0.101",
            dst_host=f"ws{i:03d}",
        )
        for d in range(1, 10)
        for i in range(30)
    ]


def test_positive_spree_from_quiet_workstation(write_events) -> None:
    rows = _helpdesk_history()
    # the same account is used from a Bangkok workstation that never reached anyone
    rows += [event(ts=ts(1, 5), user="k.som", src_ip="10.3.0.102", dst_host="th-fs01")]
    spree = [
        event(
            ts=ts(12, 16) + timedelta(minutes=i),
            user="hd-tan",
            src_ip="10.3.0.102",
            dst_host=f"th-ws{i:03d}",
            auth_package="NTLM",
        )
        for i in range(25)
    ]
    rep = detect(write_events(rows + spree), None, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1, [x["reason"] for x in f]
    assert "source 10.3.0.102 reached 25 distinct hosts" in f[0]["reason"]
    assert "its most in any earlier hour was 1" in f[0]["reason"]
    assert f[0]["entities"]["accounts"] == ["hd-tan"]
    assert f[0]["evidence_count"] == 25


def test_negative_busy_account_and_warmup(write_events) -> None:
    rows = _helpdesk_history()
    # a normal day for the help desk after warm-up: 30 hosts again, not more
    rows += [
        event(
            ts=ts(12, 2) + timedelta(minutes=i),
            user="hd-tan",
            src_ip="10.1.0.101",
            dst_host=f"ws{i + 100:03d}",
        )
        for i in range(30)
    ]
    rep = detect(write_events(rows), None, detectors=DET)
    assert rep.findings.num_rows == 0
    # 9 hosts from a new source is under min_hosts_new; failures never count
    few = [event(ts=ts(12, 9), user="x", src_ip="10.9.9.9", dst_host=f"h{i}") for i in range(9)]
    fails = [
        event(
            ts=ts(12, 9),
            user="y",
            src_ip="10.9.9.8",
            dst_host=f"h{i}",
            kind="logon_failure",
            outcome="failure",
        )
        for i in range(40)
    ]
    assert detect(write_events(rows + few + fails), None, detectors=DET).findings.num_rows == 0


def test_daily_runs_and_a_late_day_equal_one_batch_run(tmp_path) -> None:
    """The help desk's 30 hosts an hour on days 1 to 9 are its state: 30 again on day 12 is
    no burst; the Bangkok workstation's 25 on day 12 is (its most before: 1, on day 1)."""
    from tests.detect.foldcheck import runs, seen

    rows = _helpdesk_history()
    rows += [event(ts=ts(1, 5), user="k.som", src_ip="10.3.0.102", dst_host="th-fs01")]
    rows += [
        event(
            ts=ts(12, 2) + timedelta(minutes=i),
            user="hd-tan",
            src_ip="10.1.0.101",
            dst_host=f"ws{i + 100:03d}",
        )
        for i in range(30)
    ]
    rows += [
        event(
            ts=ts(12, 16) + timedelta(minutes=i),
            user="k.som",
            src_ip="10.3.0.102",
            dst_host=f"th-ws{i:03d}",
        )
        for i in range(25)
    ]
    got = runs(tmp_path, rows, None, DET, late=("2026-09-05", "2026-09-12"))
    batch = got["batch"].findings.to_pylist()
    assert len(batch) == 2, [r["reason"] for r in batch]
    reasons = sorted(r["reason"] for r in batch)
    assert reasons[0].startswith("account k.som reached 25 distinct hosts")
    assert "its most in any earlier hour was 1" in reasons[0]
    assert reasons[1].startswith("source 10.3.0.102 reached 25 distinct hosts")
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
