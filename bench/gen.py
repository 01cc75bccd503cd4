"""Synthetic inputs for the ingest benchmark, written in streaming fashion at a stated size.

Shapes follow the real formats (Winlogbeat ECS JSON lines, Zeek conn TSV, LANL auth CSV); the
values are random but plausible, so parsers do their full work on every line.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ZEEK_HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2026-09-08-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t"
    "orig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\t"
    "orig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\t"
    "bool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
)
CHUNK = 50_000


def ecs(path: Path, n: int, seed: int = 1) -> Path:
    """``n`` Windows Security events as Winlogbeat/ECS JSON lines."""
    rnd = random.Random(seed)
    base = datetime(2026, 9, 8, tzinfo=UTC)
    codes = (4624, 4624, 4624, 4625, 4634, 4672, 4768, 4769, 5140, 5145, 4648)
    with path.open("wb") as fh:
        buf: list[bytes] = []
        for i in range(n):
            code = codes[rnd.randrange(len(codes))]
            user = f"user{rnd.randrange(5000)}"
            ed = {
                "SubjectUserName": user,
                "SubjectDomainName": "CORP",
                "TargetUserName": user,
                "TargetDomainName": "CORP",
                "LogonType": "3",
                "AuthenticationPackageName": "Kerberos",
                "WorkstationName": "-",
                "IpAddress": f"10.20.{rnd.randrange(256)}.{rnd.randrange(256)}",
                "IpPort": str(rnd.randrange(1024, 65535)),
                "ServiceName": "JP-OSA-FS01$",
                "Status": "0x0",
                "ShareName": "\\\\*\\Data",
            }
            ts = (base + timedelta(milliseconds=i * 3)).isoformat().replace("+00:00", "Z")
            host = f"ws{rnd.randrange(20000):05d}.corp.example.co.jp"
            buf.append(
                orjson.dumps(
                    {
                        "@timestamp": ts,
                        "event": {"code": str(code), "kind": "event", "outcome": "success"},
                        "host": {"name": host},
                        "winlog": {
                            "channel": "Security",
                            "computer_name": host,
                            "event_id": str(code),
                            "record_id": str(i),
                            "provider_name": "Microsoft-Windows-Security-Auditing",
                            "event_data": ed,
                        },
                    }
                )
            )
            if len(buf) >= CHUNK:
                fh.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    return path


def zeek_conn(path: Path, n: int, seed: int = 1) -> Path:
    """``n`` Zeek conn.log records (TSV with header)."""
    rnd = random.Random(seed)
    t0 = 1788876191.0
    with path.open("w") as fh:
        fh.write(ZEEK_HEADER)
        lines: list[str] = []
        for i in range(n):
            lines.append(
                f"{t0 + i * 0.01:.6f}\tC{i:017d}\t"
                f"10.20.{rnd.randrange(256)}.{rnd.randrange(256)}\t"
                f"{rnd.randrange(1024, 65535)}\t10.1.0.{rnd.randrange(256)}\t445\ttcp\tsmb\t"
                f"{rnd.random() * 10:.6f}\t{rnd.randrange(10**6)}\t{rnd.randrange(10**5)}\t"
                "SF\tT\tT\t0\tShADadFf\t10\t1600\t8\t900\t-\n"
            )
            if len(lines) >= CHUNK:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
    return path


def lanl_auth(path: Path, n: int, seed: int = 1) -> Path:
    """``n`` lines of LANL auth.txt (time,src user,dst user,src,dst,type,logon,orientation,ok)."""
    rnd = random.Random(seed)
    types = ("Kerberos", "NTLM", "Negotiate", "?")
    logons = ("Network", "Network", "Network", "Interactive", "Batch", "Service", "?")
    orients = ("LogOn", "LogOn", "LogOff", "TGS", "TGT")
    with path.open("w") as fh:
        lines: list[str] = []
        for i in range(n):
            u = f"U{rnd.randrange(12000)}@DOM1"
            src, dst = f"C{rnd.randrange(17000)}", f"C{rnd.randrange(17000)}"
            ok = "Success" if rnd.random() > 0.012 else "Fail"
            kind = f"{types[i % 4]},{logons[i % 7]},{orients[i % 5]}"
            lines.append(f"{i // 300},{u},{u},{src},{dst},{kind},{ok}\n")
            if len(lines) >= CHUNK:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
    return path


def evtx_big(path: Path, sources: list[Path], n_chunks: int) -> Path:
    """A large EVTX file: the 64 KiB chunks of real ``sources`` repeated, under a fresh header.

    Windows has no public writer and real collections hold files of tens of thousands of records,
    so this measures what the small real samples cannot: the per-record cost on one big file.
    Each chunk is self-contained (its own string and template tables, its own checksums), so
    copying it verbatim gives records the library reads as it reads the originals.
    """
    import struct
    import zlib

    chunks: list[bytes] = []
    for src in sources:
        data = src.read_bytes()
        for off in range(4096, len(data) - 65535, 65536):
            c = data[off : off + 65536]
            if c.startswith(b"ElfChnk\x00") and struct.unpack_from("<Q", c, 8)[0] > 0:
                chunks.append(c)
    if not chunks:
        raise ValueError("no EVTX chunks in the sources")
    n_chunks = min(n_chunks, 0xFFFF)
    head = bytearray(4096)
    fields = (b"ElfFile\x00", 0, n_chunks - 1, 1, 128, 1, 3, 4096, n_chunks)
    struct.pack_into("<8sQQQIHHHH", head, 0, *fields)
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[:120])) & 0xFFFFFFFF)
    with path.open("wb") as fh:
        fh.write(head)
        for i in range(n_chunks):
            fh.write(chunks[i % len(chunks)])
    return path


# -- A wider Windows mix, for the Sigma benchmark (bench/sigma.py) ------------------------------

WIN_USERS = 5000
WIN_HOSTS = 2000
_PROCS = (
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "C:\\Windows\\System32\\net.exe",
    "C:\\Windows\\System32\\tscon.exe",
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Windows\\System32\\schtasks.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
    "C:\\Windows\\System32\\mmc.exe",
    "C:\\Windows\\System32\\vssadmin.exe",
    "C:\\Windows\\PSEXESVC.exe",
    "C:\\Users\\Public\\tool.exe",
)
_CMDS = (
    "cmd.exe /c whoami",
    "powershell.exe -nop -w hidden -enc SQBFAFgA",
    "net use \\\\jp-osa-fs01\\C$ /user:CORP\\adm-sato",
    "vssadmin delete shadows /all /quiet",
    "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full",
    "schtasks /create /tn Update /tr C:\\Users\\Public\\tool.exe /sc once /st 00:00",
    "tscon 2 /dest:rdp-tcp#7",
    "svchost.exe -k netsvcs -p",
    "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1700000000.123 2>&1",
    '"C:\\Windows\\explorer.exe"',
    'net group "Domain Admins" /domain',
    "C:\\Windows\\System32\\cmd.exe -c ping 10.1.0.5",
)
_SHARES = (
    "\\\\*\\IPC$",
    "\\\\*\\ADMIN$",
    "\\\\*\\C$",
    "\\\\*\\SYSVOL",
    "\\\\*\\NETLOGON",
    "\\\\*\\Data",
)
_PIPES = ("svcctl", "srvsvc", "lsarpc", "samr", "atsvc", "winreg", "Docs\\q3.xlsx", "tool.exe")
_SERVICES = ("JP-OSA-FS01$", "krbtgt", "MSSQLSvc", "svc_backup", "HTTP", "cifs", "ldap")
_GROUPS = (
    ("Administrators", "S-1-5-32-544"),
    ("Domain Admins", "S-1-5-21-1-2-3-512"),
    ("Remote Desktop Users", "S-1-5-32-555"),
    ("Print Operators", "S-1-5-32-550"),
    ("Staff", "S-1-5-21-1-2-3-1108"),
)
_IMAGES = (
    "%SystemRoot%\\PSEXESVC.exe",
    "\\\\127.0.0.1\\ADMIN$\\a1b2c3.exe",
    "C:\\Windows\\x7.exe",
    "%COMSPEC% /C echo dir > \\\\127.0.0.1\\C$\\out.txt",
    "C:\\Program Files\\Vendor\\agent.exe",
    "C:\\Windows\\System32\\svchost.exe -k netsvcs",
)
# (event id, weight); Security unless noted. Roughly a domain controller plus member servers.
_MIX = (
    (4624, 300),
    (4625, 40),
    (4634, 80),
    (4672, 50),
    (4648, 30),
    (4768, 50),
    (4769, 90),
    (5140, 40),
    (5145, 60),
    (4688, 120),
    (4697, 3),
    (7045, 3),
    (4698, 5),
    (4728, 2),
    (4732, 2),
    (4756, 1),
    (1102, 1),
    (4776, 40),
    (4740, 2),
)


def _user(rnd: random.Random) -> str:
    r = rnd.random()
    if r < 0.08:
        return f"WS{rnd.randrange(WIN_HOSTS):05d}$"
    if r < 0.1:
        return "ANONYMOUS LOGON"
    if r < 0.15:
        return f"adm-{rnd.choice(('sato', 'suzuki', 'tanaka', 'ito', 'kato'))}"
    if r < 0.17:
        return "SYSTEM"
    return f"user{rnd.randrange(WIN_USERS)}"


def _ip(rnd: random.Random) -> str:
    r = rnd.random()
    if r < 0.05:
        return "-"
    if r < 0.08:
        return "127.0.0.1"
    if r < 0.09:
        return "::1"
    if r < 0.2:
        return f"192.168.{rnd.randrange(4)}.{rnd.randrange(256)}"
    if r < 0.3:
        return f"172.16.{rnd.randrange(32)}.{rnd.randrange(256)}"
    return f"10.{rnd.choice((1, 2, 3, 20))}.{rnd.randrange(256)}.{rnd.randrange(256)}"


def _event_data(code: int, rnd: random.Random) -> dict[str, str]:
    """EventData of one event of ``code`` with plausible, varied values."""
    subject, target = _user(rnd), _user(rnd)
    ws = f"WS{rnd.randrange(WIN_HOSTS):05d}"
    ed = {
        "SubjectUserName": subject,
        "SubjectDomainName": "CORP",
        "SubjectLogonId": f"0x{rnd.randrange(1 << 24):x}",
        "TargetUserName": target,
        "TargetDomainName": "CORP",
    }
    if code in (4624, 4625, 4634):
        lt = rnd.choice((2, 3, 3, 3, 3, 3, 5, 7, 9, 10, 11))
        pkg = rnd.choice(("Kerberos", "Kerberos", "NTLM", "Negotiate"))
        ed |= {
            "LogonType": str(lt),
            "TargetLogonId": f"0x{rnd.randrange(1 << 24):x}",
        }
        if code != 4634:
            ed |= {
                "AuthenticationPackageName": pkg,
                "LogonProcessName": rnd.choice(
                    ("Kerberos", "NtLmSsp ", "User32 ", "Advapi  ", "seclogo")
                ),
                "WorkstationName": rnd.choice((ws, "-", "")),
                "IpAddress": _ip(rnd),
                "IpPort": str(rnd.randrange(1024, 65535)),
                "ProcessName": rnd.choice((*_PROCS[:5], "-", "C:\\Windows\\System32\\lsass.exe")),
                "KeyLength": "0" if pkg == "Kerberos" or rnd.random() < 0.3 else "128",
                "LmPackageName": "NTLM V2" if pkg == "NTLM" else "-",
            }
        if code == 4625:
            ed |= {
                "Status": rnd.choice(("0xc000006d", "0xc000006e", "0xc0000234")),
                "SubStatus": rnd.choice(("0xc000006a", "0xc0000064", "0xc0000072")),
                "FailureReason": "%%2313",
            }
    elif code == 4672:
        ed["PrivilegeList"] = rnd.choice(
            ("SeSecurityPrivilege\n\t\t\tSeBackupPrivilege", "SeDebugPrivilege", "SeTcbPrivilege")
        )
    elif code == 4648:
        ed |= {
            "TargetServerName": rnd.choice((f"jp-osa-fs{rnd.randrange(20):02d}", "localhost")),
            "TargetInfo": "cifs",
            "ProcessName": rnd.choice(_PROCS),
            "IpAddress": _ip(rnd),
        }
    elif code in (4768, 4769, 4776):
        ed |= {
            "ServiceName": rnd.choice(_SERVICES),
            "TicketEncryptionType": rnd.choice(("0x12", "0x12", "0x12", "0x17", "0x11")),
            "TicketOptions": rnd.choice(("0x40810000", "0x40810010", "0x60810010")),
            "Status": rnd.choice(("0x0", "0x0", "0x0", "0x6", "0x18")),
            "IpAddress": "::ffff:" + _ip(rnd).lstrip(":f"),
            "Workstation": ws,
        }
    elif code in (5140, 5145):
        ed |= {
            "ShareName": rnd.choice(_SHARES),
            "ShareLocalPath": rnd.choice(("C:\\Windows", "C:\\", "\\??\\C:\\Data", "")),
            "IpAddress": _ip(rnd),
            "AccessMask": rnd.choice(("0x1", "0x2", "0x12019f")),
        }
        if code == 5145:
            ed["RelativeTargetName"] = rnd.choice(_PIPES)
    elif code == 4688:
        proc = rnd.choice(_PROCS)
        ed |= {
            "NewProcessName": proc,
            "ParentProcessName": rnd.choice(_PROCS),
            "CommandLine": rnd.choice(_CMDS),
            "NewProcessId": f"0x{rnd.randrange(1 << 16):x}",
            "TokenElevationType": rnd.choice(("%%1936", "%%1937", "%%1938")),
            "MandatoryLabel": "S-1-16-12288",
        }
    elif code in (4697, 7045):
        ed |= {
            "ServiceName": rnd.choice(("PSEXESVC", "BTOBTO", "WinDefend", "Agent")),
            ("ServiceFileName" if code == 4697 else "ImagePath"): rnd.choice(_IMAGES),
            "ServiceType": "0x10",
            "StartType": "3",
            "AccountName": "LocalSystem",
        }
    elif code == 4698:
        ed |= {
            "TaskName": rnd.choice(("\\Update", "\\Microsoft\\Windows\\Defrag", "\\x")),
            "TaskContent": "<Task><Exec><Command>C:\\Users\\Public\\tool.exe</Command>"
            "</Exec></Task>",
        }
    elif code in (4728, 4732, 4756):
        group, sid = rnd.choice(_GROUPS)
        ed |= {
            "TargetUserName": group,
            "TargetSid": sid,
            "MemberName": f"CN={target},OU=Users,DC=corp,DC=example",
            "MemberSid": f"S-1-5-21-1-2-3-{rnd.randrange(1000, 9000)}",
        }
    return ed


def _burst(rnd: random.Random) -> list[tuple[int, dict[str, str]]]:
    """A scripted guessing run from one address: failures on many accounts, then a success."""
    ip = f"10.3.0.{rnd.randrange(100, 200)}"
    out = []
    for _ in range(rnd.choice((8, 12, 25))):
        ed = _event_data(4625, rnd)
        ed |= {"IpAddress": ip, "LogonType": "3", "TargetUserName": f"user{rnd.randrange(50)}"}
        out.append((4625, ed))
    ok = _event_data(4624, rnd)
    ok |= {"IpAddress": ip, "LogonType": "3", "TargetUserName": f"user{rnd.randrange(50)}"}
    out.append((4624, ok))
    return out


def windows_mix(path: Path, n: int, seed: int = 1, step_ms: int = 50) -> Path:
    """``n`` Windows events (Security, plus System 7045) as Winlogbeat/ECS JSON lines.

    A wider mix than ``ecs``: logons of every type, Kerberos, shares and pipes, process
    creation with command lines, services, tasks, group changes, log clears, and, about once
    every 20,000 events, a scripted guessing run from one address (failures then a success),
    so that the correlation rules have something to find. Events are ``step_ms`` apart.
    """
    rnd = random.Random(seed)
    base = datetime(2026, 9, 8, tzinfo=UTC)
    codes = [c for c, _ in _MIX]
    weights = [w for _, w in _MIX]
    pending: list[tuple[int, dict[str, str]]] = []
    with path.open("wb") as fh:
        buf: list[bytes] = []
        for i in range(n):
            if not pending and rnd.random() < 1 / 20_000:
                pending = _burst(rnd)
            if pending:
                code, ed = pending.pop(0)
            else:
                code = rnd.choices(codes, weights)[0]
                ed = _event_data(code, rnd)
            system = code == 7045
            host = f"srv{rnd.randrange(200):03d}.corp.example.co.jp"
            ts = base + timedelta(milliseconds=i * step_ms + rnd.randrange(step_ms))
            buf.append(
                orjson.dumps(
                    {
                        "@timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "event": {"code": str(code), "kind": "event"},
                        "host": {"name": host},
                        "winlog": {
                            "channel": "System" if system else "Security",
                            "computer_name": host,
                            "event_id": str(code),
                            "record_id": str(i),
                            "provider_name": "Service Control Manager"
                            if system
                            else "Microsoft-Windows-Security-Auditing",
                            "event_data": ed,
                        },
                    }
                )
            )
            if len(buf) >= CHUNK:
                fh.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    return path
