"""A strong finding's credential is followed to the new hosts it reached next."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.service_account_interactive"]


def _use(at, src_ip: str, dst: str, eid: str, user: str = "svc-backup") -> dict:
    """A logon with the credential from ``src_ip`` to ``dst``, with a name to look for."""
    return event(ts=at, user=user, src_ip=src_ip, dst_host=dst, event_id=eid)


def _rows() -> list[dict]:
    t = ts(12, 11)
    day, hour = timedelta(days=1), timedelta(hours=1)
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
        _use(t + 2 * hour, "10.2.0.20", "jp-dc-dc01", "next-hop"),
        # the routine job the next night: seen before the alarm, not followed
        event(ts=ts(13, 2), user="svc-backup", src_ip="10.2.0.10", dst_host="jp-dc-fs01"),
        # the Bangkok workstation had used the credential before the alarm (a network logon)
        event(ts=ts(5, 3), user="svc-backup", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        # so three days after the alarm, a new host from there is not followed (a day only) ...
        _use(t + 3 * day, "10.3.0.101", "jp-dc-app02", "not-a-foothold"),
        # ... while the file server was first used from in the alarm: a foothold, followed for
        # a week. Five days later the intruder comes back from it to a new server
        _use(t + 5 * day, "10.2.0.20", "jp-dc-app01", "return-visit"),
        # nine days later: outside the week's follow window
        _use(t + 9 * day, "10.2.0.20", "th-bkk-ws002", "too-late"),
        # another account from the same hosts: not this credential
        _use(t + 3 * hour, "10.2.0.20", "jp-tky-ws001", "other", user="t.suzuki"),
    ]


def test_the_credential_is_followed_to_its_next_new_host(inventory, write_events) -> None:
    f = detect(write_events(_rows()), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1
    hosts = {"th-bkk-ws001", "jp-dc-fs01", "jp-dc-dc01", "jp-dc-app01"}
    assert set(f[0]["entities"]["hosts"]) == hosts
    assert {"next-hop", "return-visit"} <= set(f[0]["evidence"])
    assert not {"too-late", "other", "not-a-foothold"} & set(f[0]["evidence"])
    assert (
        "Followed from the hosts named here (for 24 h, for 7 days from a host it was first used "
        "from here), the same credential reached 2 more host(s) it had not reached from them in "
        "the 30 days before: jp-dc-app01, jp-dc-dc01" in f[0]["reason"]
    )
    assert f[0]["evidence_count"] == 3


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


def test_a_new_steps_version_puts_settled_findings_through_the_steps(
    inventory, write_events, monkeypatch
) -> None:
    from ashiato.detect import follow, settled

    store = write_events(_rows())

    def evidence() -> list[str]:
        return detect(store, inventory, detectors=DET).findings.to_pylist()[0]["evidence"]

    with monkeypatch.context() as m:
        m.setattr(follow, "MIN_SCORE", 101.0)  # the older code: nothing followed
        assert "next-hop" not in evidence()
    # nothing changed since: the finding is kept as that run left it
    assert "next-hop" not in evidence()
    monkeypatch.setattr(settled, "STEPS_VERSION", settled.STEPS_VERSION + 1)
    assert "next-hop" in evidence()


def test_the_baseline_is_the_month_before(inventory, write_events, monkeypatch) -> None:
    """With a baseline shorter than the week since the Bangkok workstation last used the
    credential, that workstation is a foothold too: its later new host is followed."""
    from ashiato.detect import follow

    monkeypatch.setattr(follow, "BASELINE", timedelta(days=5))
    f = detect(write_events(_rows()), inventory, detectors=DET).findings.to_pylist()
    assert {"next-hop", "return-visit", "not-a-foothold"} <= set(f[0]["evidence"])
