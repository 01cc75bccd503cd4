"""A finding that cites a logon also cites that session's 4672 privilege grant."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ashiato.detect.runner import detect
from tests.conftest import event, ts


def switch(at: datetime, subject: str, lid: str) -> dict[str, Any]:
    """A 4648 on jp-osa-prx01: ``subject``, in session ``lid``, supplies svc-scan's credentials
    for jp-osa-mail01."""
    raw = {
        "SubjectUserName": subject,
        "SubjectLogonId": lid,
        "TargetUserName": "svc-scan",
        "TargetServerName": "jp-osa-mail01",
        "ProcessName": "C:\\Windows\\System32\\runas.exe",
        "EventID": "4648",
        "Channel": "Security",
    }
    return event(
        ts=at,
        kind="explicit_credentials",
        event_code=4648,
        user="svc-scan",
        src_host="jp-osa-prx01",
        dst_host="jp-osa-mail01",
        log_host="jp-osa-prx01",
        logon_type=None,
        raw=list(raw.items()),
    )


def test_privilege_grant_joins_the_cited_logon(inventory, write_events) -> None:
    t = ts(5, 17)
    rows = [
        event(
            ts=t, user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01", log_host="jp-dc-fs01"
        ),
        event(
            ts=t + timedelta(milliseconds=3),
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            logon_type=None,
        ),
        # another host's grant, and a grant much later: not this session
        event(
            ts=t,
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-dc01",
            log_host="jp-dc-dc01",
            logon_type=None,
        ),
        event(
            ts=t + timedelta(minutes=5),
            kind="privilege_grant",
            event_code=4672,
            user="adm-sato",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            logon_type=None,
        ),
    ]
    rep = detect(write_events(rows), inventory, detectors=["segmentation.policy_violation"])
    f = rep.findings.to_pylist()
    assert len(f) == 1
    assert f[0]["evidence"] == ["e000000", "e000001"] and f[0]["evidence_count"] == 2


def test_account_switch_names_the_session_that_made_it(inventory, write_events) -> None:
    """A 4648 on B supplying svc-scan's credentials: the finding also cites r.setiawan's RDP
    logon to B (the session ``SubjectLogonId`` names), its source host and account."""
    from ashiato.sigma.ruleset import PACK

    t = ts(5, 6)
    rdp = {"TargetLogonId": "0x575672", "TargetUserName": "r.setiawan", "LogonType": "10"}

    rows = [
        event(
            ts=t,
            user="r.setiawan",
            logon_type=10,
            src_host="id-jkt-ws00091",
            src_ip="10.30.16.91",
            dst_host="jp-osa-prx01",
            log_host="jp-osa-prx01",
            raw=list(rdp.items()),
        ),
        # someone else's session on the same host, and the same logon id on another host
        event(
            ts=t,
            user="b.garcia",
            src_ip="10.40.17.13",
            dst_host="jp-osa-prx01",
            log_host="jp-osa-prx01",
            raw=[("TargetLogonId", "0x999"), ("TargetUserName", "b.garcia")],
        ),
        event(
            ts=t,
            user="r.setiawan",
            src_host="id-jkt-ws00092",
            dst_host="jp-osa-web01",
            log_host="jp-osa-web01",
            raw=list(rdp.items()),
        ),
        switch(t + timedelta(minutes=23), "r.setiawan", "0x575672"),
    ]
    # the same id on the same host by the same account, but too early (> 72 h) and after the 4648
    for when in (t - timedelta(hours=73), t + timedelta(hours=1)):
        rows.append({**rows[0], "ts": when, "src_host": "id-jkt-ws00093"})
    rule = PACK / "explicit_credentials_remote_host.yml"
    f = detect(write_events(rows), inventory, detectors=[], rules=[rule]).findings.to_pylist()
    assert len(f) == 1
    assert sorted(f[0]["evidence"]) == ["e000000", "e000003"]
    assert "id-jkt-ws00093" not in f[0]["entities"]["hosts"]
    assert "r.setiawan" in f[0]["entities"]["accounts"]
    assert "id-jkt-ws00091" in f[0]["entities"]["hosts"]
    assert "id-jkt-ws00092" not in f[0]["entities"]["hosts"]


def test_a_cited_kerberos_logon_gains_the_ticket_it_presented(inventory, write_events) -> None:
    """The latest 4769 for that account, host and client address names the DC that served it;
    an older one, another client's, another host's do not join, nor anything for NTLM."""
    from ashiato.sigma.ruleset import PACK

    t = ts(5, 17)

    def ticket(minutes: float, ip: str = "10.3.0.101", host: str = "jp-dc-fs01") -> dict:
        return event(
            ts=t + timedelta(minutes=minutes),
            kind="kerberos_service",
            event_code=4769,
            user="adm-sato",
            src_ip=ip,
            dst_host=host,
            log_host="jp-dc-dc01",
            logon_type=None,
        )

    def logon(package: str) -> dict:
        raw = {"EventID": "4624", "Channel": "Security", "LogonType": "3"}
        raw |= {"AuthenticationPackageName": package, "TargetDomainName": "corp"}
        return event(
            ts=t,
            user="adm-sato",
            src_ip="10.3.0.101",
            dst_host="jp-dc-fs01",
            log_host="jp-dc-fs01",
            auth_package=package,
            raw=list(raw.items()),
        )

    tickets = [ticket(-120), ticket(-0.1), ticket(-0.05, ip="10.3.0.7"), ticket(-0.05, host="x")]
    rule = PACK / "kerb_logon_lowercase_domain.yml"  # a finding that cites the logon alone
    rows = [logon("Kerberos"), *tickets]
    f = detect(write_events(rows), inventory, detectors=[], rules=[rule]).findings.to_pylist()
    assert len(f) == 1 and sorted(f[0]["evidence"]) == ["e000000", "e000002"]
    assert "jp-dc-dc01" in f[0]["entities"]["hosts"]
    rows = [{**logon("Kerberos"), "auth_package": "NTLM"}, *tickets]  # no ticket for NTLM
    f = detect(write_events(rows), inventory, detectors=[], rules=[rule]).findings.to_pylist()
    assert len(f) == 1 and f[0]["evidence"] == ["e000000"]


def test_the_session_origin_known_only_by_its_address_is_named_by_the_inventory(
    inventory, write_events
) -> None:
    """A network logon gives the source's address only; the switch's finding names the host
    the inventory puts at that address (the analyst's, and the containment plan's, first hop)."""
    from ashiato.sigma.ruleset import PACK

    t = ts(5, 6)
    rows = [
        event(
            ts=t,
            user="t.suzuki",
            src_ip="10.3.0.101",
            dst_host="jp-osa-prx01",
            log_host="jp-osa-prx01",
            raw=[("TargetLogonId", "0x4242"), ("TargetUserName", "t.suzuki")],
        ),
        switch(t + timedelta(minutes=5), "t.suzuki", "0x4242"),
    ]
    rule = PACK / "explicit_credentials_remote_host.yml"
    f = detect(write_events(rows), inventory, detectors=[], rules=[rule]).findings.to_pylist()
    assert len(f) == 1 and sorted(f[0]["evidence"]) == ["e000000", "e000001"]
    assert "th-bkk-ws001" in f[0]["entities"]["hosts"]
    assert "10.3.0.101" in f[0]["entities"]["ips"]
