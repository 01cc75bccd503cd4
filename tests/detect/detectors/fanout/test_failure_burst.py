"""Golden samples for fanout.failure_burst."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["fanout.failure_burst"]


def _fail(t, user: str, src: str, kind: str = "logon_failure") -> dict:  # type: ignore[no-untyped-def]
    return event(
        ts=t,
        user=user,
        src_ip=src,
        dst_host="jp-dc-dc01",
        kind=kind,
        outcome="failure",
        status="0xC000006A",
        event_code=4625,
    )


def test_positive_spray_then_success(write_events) -> None:
    rows = [_fail(ts(d, 1), "t.suzuki", "10.1.0.101") for d in range(1, 8)]  # a daily typo
    spray = [
        _fail(ts(9, 3) + timedelta(seconds=20 * i), f"user{i:03d}", "10.3.0.102")
        for i in range(120)
    ]
    spray += [_fail(ts(9, 3, 50), "adm-sato", "10.3.0.102", kind="kerberos_tgt")]
    won = event(ts=ts(9, 4), user="user077", src_ip="10.3.0.102", dst_host="jp-dc-dc01")
    rep = detect(write_events(rows + spray + [won]), None, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert "121 distinct accounts failed to authenticate from 10.3.0.102" in f[0]["reason"]
    assert "Then user077 logged on" in f[0]["reason"]
    # 121 failures, and the cracked account's logon that followed (detect/follow.py)
    assert f[0]["severity"] == "critical" and f[0]["evidence_count"] == 122
    assert f[0]["entities"]["accounts"] == ["user077"]


def test_negative_typos_and_lockout_storm_of_one_account(write_events) -> None:
    rows = [_fail(ts(d, h), "t.suzuki", "10.1.0.101") for d in range(1, 10) for h in range(8)]
    # one stale service credential failing hundreds of times: one account, not a spray
    rows += [_fail(ts(9, 5) + timedelta(seconds=i), "svc-old", "10.2.0.10") for i in range(300)]
    # 14 accounts (under min_accounts) from a shared kiosk
    rows += [_fail(ts(9, 8), f"k{i}", "10.1.0.50") for i in range(14)]
    assert detect(write_events(rows), None, detectors=DET).findings.num_rows == 0


def test_positive_explicit_credentials_spray_and_claimed_names(write_events) -> None:
    """A foothold trying 41 accounts' passwords with runas/net use (4648, as DeepBlueCLI's
    password-spray sample), and a spray whose client sends a random workstation name per attempt
    (the IP is the source). A help-desk console supplying 5 accounts' credentials is no burst."""
    rows = [
        event(
            ts=ts(9, 19) + timedelta(seconds=7 * i),
            user=f"user{i % 41:02d}",
            kind="explicit_credentials",
            event_code=4648,
            logon_type=None,
            src_host="desktop-jr78rlp",
            dst_host="desktop-jr78rlp",
        )
        for i in range(294)
    ]
    rows += [
        event(
            ts=ts(9, 20) + timedelta(seconds=i),
            user=f"k{i}",
            kind="explicit_credentials",
            event_code=4648,
            logon_type=None,
            src_host="jp-tky-hd01",
        )
        for i in range(5)
    ]
    spray = [
        dict(
            _fail(ts(10, 3) + timedelta(seconds=i), f"u{i:02d}", "192.168.198.149"),
            src_host=f"r{i}",
        )
        for i in range(30)
    ]
    rep = detect(write_events(rows + spray), None, detectors=DET)
    f = sorted(rep.findings.to_pylist(), key=lambda r: r["first_seen"])
    assert [r["title"] for r in f] == [
        "41 accounts' credentials tried on desktop-jr78rlp",
        "30 accounts failing from 192.168.198.149",
    ]
    assert "41 distinct accounts' credentials were supplied explicitly (4648)" in f[0]["reason"]
    assert f[0]["evidence_count"] == 294 and f[1]["evidence_count"] == 30


def test_burst_in_the_first_hour_of_the_data(write_events) -> None:
    """A store that begins mid-hour (a single attack sample, 19:27) still flags a burst in that
    first hour: hour buckets are compared with the warm-up's hour, not its minute."""
    rows = [
        _fail(ts(9, 19, 27) + timedelta(seconds=10 * i), f"user{i:02d}", "10.3.0.102")
        for i in range(20)
    ]
    assert detect(write_events(rows), None, detectors=DET).findings.num_rows == 1


def test_daily_runs_and_a_late_day_equal_one_batch_run(tmp_path) -> None:
    """A source's earlier hourly maxima are state: 20 accounts on day 3 (a first), 30 on day 5
    (under 3 x 20), 100 on day 7 (over 3 x 30, the most of any earlier day)."""
    from tests.detect.foldcheck import runs, seen

    rows = [_fail(ts(d, 1), "t.suzuki", "10.1.0.101") for d in range(1, 8)]
    for day, n in ((3, 20), (5, 30), (7, 100)):
        rows += [
            _fail(ts(day, 3) + timedelta(seconds=20 * i), f"user{i:03d}", "10.3.0.102")
            for i in range(n)
        ]
    got = runs(tmp_path, rows, None, DET, late=("2026-09-05", "2026-09-07"))
    batch = sorted(got["batch"].findings.to_pylist(), key=lambda r: r["first_seen"])
    assert [r["first_seen"].day for r in batch] == [3, 7]
    assert "(up to 20 in one hour; a first)" in batch[0]["reason"]
    assert "(up to 100 in one hour; its most in an earlier hour was 30)" in batch[1]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
