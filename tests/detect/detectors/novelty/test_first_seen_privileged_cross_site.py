"""Golden samples for novelty.first_seen_privileged_cross_site."""

from __future__ import annotations

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["novelty.first_seen_privileged_cross_site"]


def _baseline() -> list[dict]:
    # The admin works from the Tokyo office every day for ten days.
    return [
        event(ts=ts(d, 1), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-fs01")
        for d in range(1, 11)
    ]


def test_positive_new_site_at_night(inventory, write_events) -> None:
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
