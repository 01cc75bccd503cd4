"""Small generators of input files for the ingest tests (and the throughput measurement)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

NOW = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
"""The fixed "now" of the tests: events after 2026-09-12 12:00 UTC are in the future."""


def ecs_event(
    code: int | str,
    ts: str = "2026-09-08T14:03:11.482Z",
    computer: str = "jp-osa-fs01.corp.example.co.jp",
    record_id: int | str = "182733",
    **event_data: Any,
) -> dict[str, Any]:
    """A Winlogbeat/ECS Security event with the given EventData."""
    return {
        "@timestamp": ts,
        "event": {
            "code": str(code),
            "kind": "event",
            "provider": "Microsoft-Windows-Security-Auditing",
        },
        "host": {"name": computer},
        "winlog": {
            "channel": "Security",
            "computer_name": computer,
            "event_id": code,
            "record_id": record_id,
            "provider_name": "Microsoft-Windows-Security-Auditing",
            "event_data": event_data,
        },
        "ecs": {"version": "8.0.0"},
        "agent": {"type": "winlogbeat"},
    }


EXAMPLE_LINE = (
    b'{"@timestamp":"2026-09-08T14:03:11.482Z","event":{"code":"4624","kind":"event",'
    b'"provider":"Microsoft-Windows-Security-Auditing","action":"logged-in","outcome":"success"},'
    b'"host":{"name":"jp-osa-fs01.corp.example.co.jp"},"winlog":{"channel":"Security",'
    b'"computer_name":"jp-osa-fs01.corp.example.co.jp","event_id":"4624","record_id":"182733",'
    b'"provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"SubjectUserName":"-",'
    b'"TargetUserName":"adm-tanaka","TargetDomainName":"CORP","LogonType":"3",'
    b'"LogonProcessName":"Kerberos","AuthenticationPackageName":"Kerberos","WorkstationName":"-",'
    b'"IpAddress":"10.20.3.17","IpPort":"50122"}},"ecs":{"version":"8.0.0"},'
    b'"agent":{"type":"winlogbeat"}}'
)


def line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2026-09-08-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
    "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\t"
    "bool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
)


def zeek_line(
    ts: str = "1788876191.036086",
    uid: str = "Cnsu5m395zFmE9ikp4",
    orig_h: str = "10.20.3.17",
    orig_p: str = "52605",
    resp_h: str = "10.20.1.4",
    resp_p: str = "445",
    proto: str = "tcp",
    service: str = "smb",
    duration: str = "1.201128",
    orig_bytes: str = "1200",
    resp_bytes: str = "403",
) -> str:
    rest = ["SF", "T", "T", "0", "ShADadFf", "10", "1600", "8", "900", "-"]
    values = [ts, uid, orig_h, orig_p, resp_h, resp_p, proto, service, duration]
    return "\t".join([*values, orig_bytes, resp_bytes, *rest]) + "\n"


def bulk_ecs(n: int, seed: int = 1) -> bytes:
    """``n`` varied, valid ECS lines (logons, Kerberos, shares, explicit credentials).

    Record numbers depend on ``seed``: two seeds are two different sets of records (the store
    would count a record number seen again on the same host and second as a duplicate).
    """
    rnd = random.Random(seed)
    base = datetime(2026, 9, 8, tzinfo=UTC)
    users = [f"adm-user{i}" for i in range(200)]
    hosts = [f"jp-osa-ws{i:03d}.corp.example.co.jp" for i in range(500)]
    out: list[bytes] = []
    for i in range(n):
        ts = (base + timedelta(milliseconds=i * 7)).isoformat().replace("+00:00", "Z")
        u = rnd.choice(users)
        h = rnd.choice(hosts)
        ip = f"10.20.{rnd.randrange(256)}.{rnd.randrange(256)}"
        code = rnd.choice((4624, 4624, 4624, 4625, 4634, 4672, 4768, 4769, 5140, 5145, 4648))
        ed: dict[str, Any] = {
            "SubjectUserName": u,
            "SubjectDomainName": "CORP",
            "TargetUserName": u,
            "TargetDomainName": "CORP",
            "LogonType": "3",
            "AuthenticationPackageName": "Kerberos",
            "WorkstationName": "-",
            "IpAddress": ip,
            "IpPort": str(rnd.randrange(1024, 65535)),
        }
        if code in (4768, 4769):
            ed["ServiceName"] = "krbtgt" if code == 4768 else "JP-OSA-FS01$"
            ed["Status"] = "0x0"
        if code in (5140, 5145):
            ed["ShareName"] = "\\\\*\\ADMIN$"
            ed["RelativeTargetName"] = "Windows\\Temp\\x.exe"
        rid = seed * 10_000_000 + i  # another export (seed) holds other records
        out.append(orjson.dumps(ecs_event(code, ts=ts, computer=h, record_id=rid, **ed)))
    return b"\n".join(out) + b"\n"


def ecs_files(d: Path, n: int) -> list[Path]:
    """``n`` small ECS files ``win<i>.json`` in a new directory ``d``, each other records."""
    d.mkdir()
    out = []
    for i in range(n):
        p = d / f"win{i}.json"
        p.write_bytes(bulk_ecs(20 + i, seed=i + 1))
        out.append(p)
    return out


def bulk_zeek(n: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    start = 1788876191
    lines = [ZEEK_HEADER]
    for i in range(n):
        lines.append(
            zeek_line(
                ts=f"{start + i // 10}.{rnd.randrange(1_000_000):06d}",
                uid=f"C{seed:03d}{i:014d}",
                orig_h=f"10.20.{rnd.randrange(256)}.{rnd.randrange(256)}",
                orig_p=str(rnd.randrange(1024, 65535)),
                resp_p=rnd.choice(("445", "135", "3389", "88", "53")),
            )
        )
    return "".join(lines).encode()
