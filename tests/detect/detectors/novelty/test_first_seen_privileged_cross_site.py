"""Golden samples for novelty.first_seen_privileged_cross_site."""

from __future__ import annotations

from pathlib import Path

from ashiato.detect.runner import detect
from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.detect.foldcheck import runs, seen

DET = ["novelty.first_seen_privileged_cross_site"]


def _baseline() -> list[dict]:
    # The admin works from the Tokyo office every day for ten days.
    return [
        event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        for d in range(1, 11)
    ]


def test_positive_new_site_at_night(inventory, write_events, monkeypatch) -> None:
    rows = [
        *_baseline(),
        event(ts=ts(12, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(
            ts=ts(12, 19),
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-dc01",
            kind="kerberos_service",
            event_code=4769,
        ),
        event(ts=ts(14, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
    ]
    rep = detect(write_events(rows), inventory, detectors=DET)
    f = rep.findings.to_pylist()
    assert len(f) == 1, "only the first use from the new site is novel"
    # evidence: every later use of the credential from that site (followed for 30 days)
    assert f[0]["evidence"] == ["e000010", "e000011", "e000012"]
    # the detector's own follow ends after a day (the engine's credential following, which
    # would add the return two days later from this foothold, is kept out here)
    from ashiato.detect import follow

    monkeypatch.setattr(follow, "MIN_SCORE", 101.0)
    short = detect(
        write_events(rows), inventory, detectors=DET, params={DET[0]: {"follow_days": 1}}
    )
    assert short.findings.to_pylist()[0]["evidence"] == ["e000010", "e000011"]
    assert f[0]["entities"]["accounts"] == ["adm-sato"]
    assert "TH-BKK" in f[0]["reason"] and "night there" in f[0]["reason"]
    assert "Asia/Bangkok" in f[0]["reason"]


def test_negative_known_site_and_warmup(inventory, write_events) -> None:
    rows = [
        *_baseline(),
        # unprivileged user from Thailand: not this detector's business
        event(ts=ts(12, 3), user="t.suzuki", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        # the admin from the usual office again
        event(ts=ts(12, 3), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
    ]
    rep = detect(write_events(rows), inventory, detectors=DET)
    assert rep.findings.num_rows == 0
    # during warm-up nothing is novel
    early = [event(ts=ts(2, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01")]
    rep = detect(write_events(_baseline() + early), inventory, detectors=DET)
    assert rep.findings.num_rows == 0


def test_lapsed_use_counts_as_new(inventory, write_events) -> None:
    rows = [
        event(ts=ts(1, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        *_baseline(),
    ]
    params = {DET[0]: {"lookback_days": 3, "warmup_days": 2}}
    rows.append(event(ts=ts(20, 1), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01"))
    rep = detect(write_events(rows), inventory, detectors=DET, params=params)
    f = rep.findings.to_pylist()
    assert len(f) == 1 and "not since 2026-09-01" in f[0]["reason"]


def test_daily_runs_and_a_late_day_equal_one_batch_run(
    tmp_path: Path, inventory: Inventory
) -> None:
    """The pair's onset late on day 12 is followed into days 13 and 14 from the state; day 14
    held back until day 16 is judged first makes day 16 look like a new onset (4 days after the
    last known use), which the late day's arrival takes back, as one batch run would."""
    rows = [
        *_baseline(),
        event(ts=ts(12, 23), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(13, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(14, 2), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(16, 3), user="adm-sato", src_ip="10.3.0.102", dst_host="jp-dc-fs01"),
    ]
    params = {DET[0]: {"lookback_days": 3}}
    got = runs(tmp_path, rows, inventory, DET, params, late=("2026-09-14", "2026-09-16"))
    f = got["batch"].findings.to_pylist()
    assert len(f) == 1, "each use is within 3 days of the pair's previous one"
    assert f[0]["evidence"] == ["e000010", "e000011", "e000012", "e000013"]
    assert "It went on from 2026-09-12 23:00 UTC to 2026-09-16 03:00 UTC" in f[0]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
