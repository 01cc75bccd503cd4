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
