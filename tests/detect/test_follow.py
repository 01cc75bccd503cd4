"""A strong finding's credential is followed to the new hosts it reached next."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.service_account_interactive"]


def _rows() -> list[dict]:
    t = ts(12, 11)
    routine = [
        # svc-backup's daily job from the domain controller's address to the file server
        event(ts=ts(d, 2), user="svc-backup", src_ip="10.2.0.10", dst_host="jp-dc-fs01")
        for d in range(1, 12)
    ]
    return [
        *routine,
        # the alarm: svc-backup logs on over RDP to the file server from a Bangkok workstation
        event(ts=t, user="svc-backup", src_ip="10.3.0.101", dst_host="jp-dc-fs01", logon_type=10),
        # then, from the file server, to the domain controller: never done before (followed)
        event(
            ts=t + timedelta(hours=2),
            user="svc-backup",
            src_ip="10.2.0.20",
            dst_host="jp-dc-dc01",
            event_id="next-hop",
        ),
        # the routine job the next night: seen before the alarm, not followed
        event(ts=ts(13, 2), user="svc-backup", src_ip="10.2.0.10", dst_host="jp-dc-fs01"),
        # two days later: outside the follow window
        event(
            ts=t + timedelta(days=2),
            user="svc-backup",
            src_ip="10.2.0.20",
            dst_host="th-bkk-ws002",
            event_id="too-late",
        ),
        # another account from the same hosts: not this credential
        event(
            ts=t + timedelta(hours=3),
            user="t.suzuki",
            src_ip="10.2.0.20",
            dst_host="jp-tky-ws001",
            event_id="other",
        ),
    ]


def test_the_credential_is_followed_to_its_next_new_host(inventory, write_events) -> None:
    f = detect(write_events(_rows()), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1
    assert set(f[0]["entities"]["hosts"]) == {"th-bkk-ws001", "jp-dc-fs01", "jp-dc-dc01"}
    assert "next-hop" in f[0]["evidence"]
    assert not {"too-late", "other"} & set(f[0]["evidence"])
    assert "reached 1 more host(s) it had never reached from them: jp-dc-dc01" in f[0]["reason"]
    assert f[0]["evidence_count"] == 2


def test_weak_findings_are_not_followed(inventory, write_events, monkeypatch) -> None:
    from ashiato.detect import follow

    monkeypatch.setattr(follow, "MIN_SCORE", 101.0)  # no finding is strong enough
    f = detect(write_events(_rows()), inventory, detectors=DET).findings.to_pylist()
    assert f[0]["evidence_count"] == 1 and "next-hop" not in f[0]["evidence"]


def test_domain_controllers_that_issued_cited_tickets_are_named(inventory, write_events) -> None:
    t = ts(12, 11)
    rows = [
        *_rows(),
        # from the file server, a service ticket for the Tokyo workstation, issued by the DC
        event(
            ts=t + timedelta(hours=1),
            kind="kerberos_service",
            event_code=4769,
            logon_type=None,
            user="svc-backup",
            src_ip="10.2.0.20",
            dst_host="jp-tky-ws001",
            log_host="jp-dc-dc02",  # a second domain controller, named nowhere else
            event_id="ticket",
        ),
    ]
    f = detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert "ticket" in f[0]["evidence"]
    assert {"jp-tky-ws001", "jp-dc-dc02"} <= set(f[0]["entities"]["hosts"])
