"""windows: the shared mapping, one golden row per mapped event id, keyed on channel and id."""

from __future__ import annotations

from typing import Any

import pytest

from ashiato.ingest import windows
from ashiato.ingest.base import ROW_FIELDS, BadRecord

SEC = ("Security", "Microsoft-Windows-Security-Auditing")
SYSMON = ("Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon")
RCM = (
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
)
LSM = (
    "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "Microsoft-Windows-TerminalServices-LocalSessionManager",
)
SYSTEM = ("System", "Service Control Manager")


def row(code: int, where: tuple[Any, Any], **data: Any) -> dict[str, Any]:
    r = windows.map_event(code, where[0], where[1], "dc01", 1_000, data.get, 7, "42")
    assert len(r) == len(ROW_FIELDS)
    out = dict(zip(ROW_FIELDS, r, strict=True))
    assert (out["ts"], out["event_code"], out["log_host"], out["source_offset"]) == (
        1_000,
        code,
        "dc01",
        7,
    )
    return {k: v for k, v in out.items() if v is not None and k not in ("ts", "log_host")}


BASE = {"event_code", "source_offset", "record_id"}


def mapped(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in BASE}


CASES: list[tuple[int, tuple[Any, Any], dict[str, Any], dict[str, Any]]] = [
    (
        4771,
        SEC,
        {"TargetUserName": "Bob", "ServiceName": "krbtgt/CORP", "Status": "0x18",
         "IpAddress": "::ffff:10.0.0.5", "IpPort": "50000"},
        {"kind": "logon_failure", "outcome": "failure", "status": "0x18", "user": "bob",
         "auth_package": "Kerberos", "src_ip": "10.0.0.5", "src_port": 50000, "dst_host": "dc01",
         "service": "krbtgt/CORP"},
    ),
    (
        4776,
        SEC,
        {"TargetUserName": "Alice", "Workstation": "WS7", "Status": "0x0"},
        {"kind": "logon", "outcome": "success", "user": "alice", "auth_package": "NTLM",
         "src_host": "ws7", "dst_host": "dc01"},
    ),
    (
        4776,
        SEC,
        {"TargetUserName": "Alice", "Workstation": "WS7", "Status": "0xC000006A"},
        {"kind": "logon_failure", "outcome": "failure", "status": "0xC000006A", "user": "alice",
         "auth_package": "NTLM", "src_host": "ws7", "dst_host": "dc01"},
    ),
    (
        4720,
        SEC,
        {"TargetUserName": "newbie", "TargetDomainName": "CORP", "SubjectUserName": "admin"},
        {"kind": "account_change", "outcome": "success", "user": "newbie", "domain": "CORP",
         "dst_host": "dc01"},
    ),
    (
        4740,
        SEC,
        {"TargetUserName": "bob", "TargetDomainName": "WS9"},
        {"kind": "account_change", "outcome": "success", "user": "bob", "src_host": "ws9",
         "dst_host": "dc01"},
    ),
    (
        4781,
        SEC,
        {"OldTargetUserName": "a", "NewTargetUserName": "B", "TargetDomainName": "CORP"},
        {"kind": "account_change", "outcome": "success", "user": "b", "domain": "CORP",
         "dst_host": "dc01"},
    ),
    (
        4697,
        SEC,
        {"ServiceName": "evil", "ServiceFileName": "cmd.exe /c x", "ServiceAccount": "LocalSystem",
         "SubjectDomainName": "CORP"},
        {"kind": "service_install", "outcome": "success", "user": "localsystem", "domain": "CORP",
         "dst_host": "dc01", "service": "evil", "path": "cmd.exe /c x"},
    ),
    (
        7045,
        SYSTEM,
        {"ServiceName": "PSEXESVC", "ImagePath": "%SystemRoot%\\PSEXESVC.exe",
         "AccountName": "LocalSystem"},
        {"kind": "service_install", "outcome": "success", "user": "localsystem",
         "dst_host": "dc01", "service": "PSEXESVC", "path": "%SystemRoot%\\PSEXESVC.exe"},
    ),
    (
        1102,
        ("Security", "Microsoft-Windows-Eventlog"),
        {"SubjectUserName": "jwrig", "SubjectDomainName": "DESKTOP"},
        {"kind": "log_cleared", "outcome": "success", "user": "jwrig", "domain": "DESKTOP",
         "dst_host": "dc01"},
    ),
    (
        104,
        ("System", "Microsoft-Windows-Eventlog"),
        {"SubjectUserName": "IEUser", "SubjectDomainName": "IE10WIN7", "Channel": "System"},
        {"kind": "log_cleared", "outcome": "success", "user": "ieuser", "domain": "IE10WIN7",
         "dst_host": "dc01"},
    ),
    (
        1,
        SYSMON,
        {"Image": "C:\\x\\evil.exe", "User": "CORP\\Bob", "CommandLine": "evil.exe -p"},
        {"kind": "process_start", "outcome": "success", "user": "bob", "domain": "CORP",
         "dst_host": "dc01", "process": "C:\\x\\evil.exe"},
    ),
    (
        3,
        SYSMON,
        {"Image": "System", "User": "NT AUTHORITY\\SYSTEM", "Protocol": "TCP",
         "SourceIp": "172.16.66.37", "SourceHostname": "-", "SourcePort": "50106",
         "DestinationIp": "172.16.66.36", "DestinationHostname": "fs1.corp.example",
         "DestinationPort": "445"},
        {"kind": "network_flow", "outcome": "unknown", "user": "system", "domain": "NT AUTHORITY",
         "src_ip": "172.16.66.37", "src_port": 50106, "dst_host": "fs1", "dst_ip": "172.16.66.36",
         "dst_port": 445, "protocol": "tcp", "process": "System"},
    ),
    (
        1149,
        RCM,
        {"Param1": "administrator", "Param2": "ie11win7", "Param3": "10.0.2.16"},
        {"kind": "logon", "outcome": "success", "user": "administrator", "domain": "IE11WIN7",
         "logon_type": 10, "src_ip": "10.0.2.16", "dst_host": "dc01"},
    ),
    (
        21,
        LSM,
        {"User": "CORP\\bob", "SessionID": "2", "Address": "10.1.2.3"},
        {"kind": "logon", "outcome": "success", "user": "bob", "domain": "CORP",
         "logon_type": 10, "src_ip": "10.1.2.3", "dst_host": "dc01"},
    ),
    (
        21,
        LSM,
        {"User": "CORP\\bob", "SessionID": "1", "Address": "LOCAL"},
        {"kind": "logon", "outcome": "success", "user": "bob", "domain": "CORP",
         "logon_type": 2, "dst_host": "dc01"},
    ),
    (
        24,
        LSM,
        {"User": "CORP\\bob", "Address": "10.1.2.3"},
        {"kind": "logoff", "outcome": "success", "user": "bob", "domain": "CORP",
         "logon_type": 10, "src_ip": "10.1.2.3", "dst_host": "dc01"},
    ),
    (
        25,
        LSM,
        {"User": "CORP\\bob", "Address": "10.1.2.3"},
        {"kind": "logon", "outcome": "success", "user": "bob", "domain": "CORP",
         "logon_type": 10, "src_ip": "10.1.2.3", "dst_host": "dc01"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("code", "where", "data", "want"), CASES)
def test_golden_mapping(
    code: int, where: tuple[Any, Any], data: dict[str, Any], want: dict[str, Any]
) -> None:
    assert mapped(row(code, where, **data)) == want


def test_ids_are_keyed_on_channel() -> None:
    # Sysmon 1 is a process start; id 1 elsewhere, and 21 outside LocalSessionManager, are not
    assert row(1, SYSMON, Image="a.exe")["kind"] == "process_start"
    assert row(1, SEC)["kind"] == "other"
    assert row(21, SEC, User="x")["kind"] == "other"
    assert row(4624, SYSMON)["kind"] == "other"
    assert row(4624, ("security", None))["kind"] == "logon"  # channel case varies (OTRF)
    assert row(4624, (None, "Microsoft-Windows-Security-Auditing"))["kind"] == "logon"
    assert row(4624, (None, None))["kind"] == "logon"  # bare exports: Security assumed
    assert row(7045, (None, "Service Control Manager"))["kind"] == "service_install"
    assert row(104, (None, "Microsoft-Windows-Eventlog"))["kind"] == "log_cleared"
    assert row(4624, ("Application", "X"))["kind"] == "other"


def test_unknown_events_keep_subject_or_target() -> None:
    r = row(4662, SEC, SubjectUserName="CORP\\Admin", SubjectDomainName="corp.example")
    assert mapped(r) == {
        "kind": "other",
        "outcome": "success",
        "user": "admin",
        "domain": "CORP",
        "dst_host": "dc01",
    }


def test_bad_values_name_the_field() -> None:
    with pytest.raises(BadRecord, match="LogonType"):
        row(4624, SEC, LogonType="three")
    with pytest.raises(BadRecord, match="DestinationPort"):
        row(3, SYSMON, DestinationPort="99999")


def test_add_system_keeps_colliding_event_data() -> None:
    raw = {"Channel": "Application", "SubjectUserName": "x"}
    system = ("System", "PC1", "104", "Microsoft-Windows-Eventlog", "9", "2020-01-01T00:00:00Z")
    out = windows.add_system(raw, system)
    assert out["Channel"] == "System"
    assert out["EventData.Channel"] == "Application"
    assert out["EventRecordID"] == "9"
    same = windows.add_system({"Channel": "System"}, system)
    assert "EventData.Channel" not in same
    plain = windows.add_system({}, system)
    assert list(plain) == list(windows.SYSTEM_KEYS)
