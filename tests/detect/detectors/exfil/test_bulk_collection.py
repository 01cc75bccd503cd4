"""Golden samples for exfil.bulk_collection."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["exfil.bulk_collection"]


def _reads(user: str, day: int, n: int, src: str = "10.3.0.101", hour: int = 3) -> list[dict]:
    return [
        event(
            ts=ts(day, hour) + timedelta(seconds=7 * i),
            kind="share_object",
            event_code=5145,
            logon_type=None,
            user=user,
            src_ip=src,
            dst_host="jp-dc-fs01",
            share="\\\\*\\Design",
            path=f"proj\\{day}\\file{i}.dwg",
        )
        for i in range(n)
    ]


def test_positive_an_account_reads_a_share_wholesale(inventory, write_events) -> None:
    rows = [r for d in range(1, 11) for r in _reads("s.chai", d, 8)]
    rows += _reads("s.chai", 12, 600, hour=15)
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["entities"]["accounts"] == ["s.chai"]
    assert set(f[0]["entities"]["hosts"]) == {"jp-dc-fs01", "th-bkk-ws001"}
    assert f[0]["evidence_count"] == 600
    assert "read 600 objects (600 distinct paths)" in f[0]["reason"]
    assert "75× its busiest day among the previous 10 active days (8 objects)" in f[0]["reason"]


def test_negative_heavy_readers_by_habit_and_accounts_without_history(
    inventory, write_events
) -> None:
    # a backup account reads thousands of objects every night: its own baseline
    rows = [r for d in range(1, 13) for r in _reads("svc-backup", d, 300 + 10 * d, "10.2.0.10")]
    # a new colleague's first busy days: too little history to judge
    rows += [r for d in (10, 11, 12) for r in _reads("t.suzuki", d, 5 if d < 12 else 400)]
    # a busy day that is only 3x the busiest earlier day
    rows += [r for d in range(1, 11) for r in _reads("s.chai", d, 80)]
    rows += _reads("s.chai", 12, 240)
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_the_previous_active_days_are_a_ring_in_daily_runs(inventory, tmp_path) -> None:
    """1,000 reads on day 2, then 20 a day: with history_days 5 the busiest of the previous five
    active days is 20, so 300 reads on day 12 are flagged (15 x); day 2 left the window."""
    from tests.detect.foldcheck import runs, seen

    rows = [r for d in range(1, 11) for r in _reads("s.chai", d, 1000 if d == 2 else 20)]
    rows += _reads("s.chai", 12, 300, hour=0)
    params = {DET[0]: {"history_days": 5, "min_history": 5}}
    got = runs(tmp_path, rows, inventory, DET, params, late=("2026-09-08", "2026-09-12"))
    (f,) = got["batch"].findings.to_pylist()
    assert "15× its busiest day among the previous 5 active days (20 objects)" in f["reason"]
    assert f["evidence_count"] == 300
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_the_days_of_one_slice_are_each_judged_as_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without an inventory, one slice: s.chai reads 300 objects just after midnight on day 12
    at 10.3.0.101 (named th-bkk-ws001 on day 2), reached over RDP at 23:30 the evening before:
    cited; 300 again on day 13 is no longer 10x its busiest previous day (day 12). k.tan reads
    300 on day 12 at 10.3.0.102, reached over RDP by the name th-bkk-ws002, which events give
    that address only on day 13: the session is not cited, as a day-12 run alone knows no name."""
    from tests.detect.foldcheck import runs, seen

    rows = [r for d in range(1, 11) for r in _reads("s.chai", d, 8)]
    rows += [r for d in range(1, 11) for r in _reads("k.tan", d, 8, "10.3.0.102")]
    rows += _reads("s.chai", 12, 300, hour=0) + _reads("s.chai", 13, 300)
    rows += _reads("k.tan", 12, 300, "10.3.0.102", hour=6)
    for t, n, host in ((ts(11, 23, 30), 1, "th-bkk-ws001"), (ts(12, 5), 2, "th-bkk-ws002")):
        rows.append(
            event(
                event_id=f"rdp{n}",
                ts=t,
                logon_type=10,
                user=f"adm-{n}",
                src_ip=f"10.1.0.10{n}",
                dst_host=host,
            )
        )
    for d, n in ((2, 1), (13, 2)):  # the events that name the reading hosts' addresses
        rows.append(
            event(ts=ts(d), user="t.suzuki", src_host=f"th-bkk-ws00{n}", src_ip=f"10.3.0.10{n}")
        )
    got = runs(tmp_path, rows, None, DET, late=("2026-09-02", "2026-09-12"))
    found = {f["entities"]["accounts"][-1]: f for f in got["batch"].findings.to_pylist()}
    assert sorted(found) == ["k.tan", "s.chai"]
    assert "rdp1" in found["s.chai"]["evidence"] and found["s.chai"]["evidence_count"] == 301
    assert "1 interactive or RDP logon(s) reached 10.3.0.101 as adm-1" in found["s.chai"]["reason"]
    assert found["s.chai"]["first_seen"] == ts(11, 23, 30)
    assert found["k.tan"]["evidence_count"] == 300 and "interactive" not in found["k.tan"]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
