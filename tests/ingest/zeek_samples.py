"""Zeek test inputs: the tiny golden logs in data/zeek, their JSON-lines twins, other logs' heads.

``to_json`` rewrites a Zeek TSV log as Zeek's JSON writer would (typed values from ``#types``,
unset fields left out), so each golden TSV sample doubles as a JSON sample. ``bulk_kerberos``
makes large inputs for the throughput measurement.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

DATA = Path(__file__).parent / "data" / "zeek"
MAPPED = ("kerberos", "ntlm", "rdp", "smb_mapping", "smb_files", "dce_rpc")

HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n"
    "#open\t2026-09-08-14-00-00\n#fields\t{fields}\n#types\t{types}\n"
)
_ID = "ts uid id.orig_h id.orig_p id.resp_h id.resp_p"
OTHER_FIELDS = {
    "dns": _ID + " proto trans_id query qtype_name rcode_name answers",
    "http": _ID + " trans_depth method host uri referrer version user_agent origin "
    "request_body_len response_body_len status_code status_msg tags username password "
    "orig_fuids resp_fuids resp_mime_types",
    "ssl": _ID + " version cipher curve server_name resumed last_alert next_protocol "
    "established ssl_history cert_chain_fps subject issuer validation_status",
    "files": "ts fuid uid id.orig_h id.orig_p id.resp_h id.resp_p source depth analyzers "
    "mime_type filename duration is_orig seen_bytes total_bytes md5 sha1 sha256",
    "x509": "ts fingerprint certificate.version certificate.serial certificate.subject "
    "certificate.issuer certificate.not_valid_before certificate.not_valid_after",
    "weird": _ID + " name addl notice peer source",
    "dhcp": "ts uids client_addr server_addr mac host_name client_fqdn domain requested_addr "
    "assigned_addr lease_time client_message server_message msg_types duration",
    "ssh": _ID + " version auth_success auth_attempts direction client server cipher_alg",
    "notice": _ID + " fuid proto note msg sub src dst p n actions suppress_for",
}


def sample(path: str) -> bytes:
    """The golden TSV sample of one log (data/zeek/<path>.log)."""
    return (DATA / f"{path}.log").read_bytes()


def other_head(path: str, with_path: bool = True) -> bytes:
    """A header of a Zeek log no specific parser maps (every column typed string)."""
    fields = OTHER_FIELDS[path].split()
    head = HEADER.format(
        path=path, fields="\t".join(fields), types="\t".join(["string"] * len(fields))
    )
    if not with_path:
        head = "".join(ln + "\n" for ln in head.splitlines() if not ln.startswith("#path"))
    return head.encode()


def other_json(path: str) -> bytes:
    """One JSON line of a log no specific parser maps (no ``_path``, as Zeek writes it)."""
    obj: dict[str, Any] = dict.fromkeys(OTHER_FIELDS[path].split(), "x")
    obj["ts"] = 1788876191.5
    return orjson.dumps(obj) + b"\n"


_ESC = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def _unescape(s: str) -> str:
    return _ESC.sub(lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), s)


def _typed(value: str, typ: str) -> Any:
    if typ in ("time", "interval", "double"):
        return float(value)
    if typ in ("count", "int", "port"):
        return int(value)
    if typ == "bool":
        return value == "T"
    if typ.startswith(("set[", "vector[")):
        return [] if value == "(empty)" else [_unescape(x) for x in value.split(",")]
    return "" if value == "(empty)" else _unescape(value)


def to_json(tsv: bytes, iso_ts: bool = False) -> bytes:
    """A Zeek TSV log as Zeek JSON lines (header dropped, unset fields left out)."""
    fields: list[str] = []
    types: list[str] = []
    out = []
    for line in tsv.decode().splitlines():
        if line.startswith("#fields\t"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types\t"):
            types = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            obj = {
                f: _typed(v, t)
                for f, t, v in zip(fields, types, line.split("\t"), strict=True)
                if v != "-"
            }
            if iso_ts:
                obj["ts"] = (
                    datetime.fromtimestamp(obj["ts"], UTC).isoformat().replace("+00:00", "Z")
                )
            out.append(orjson.dumps(obj))
    return b"\n".join(out) + b"\n"


def bulk_kerberos(n: int, seed: int = 1) -> bytes:
    """``n`` varied kerberos.log lines (AS and TGS, some failures) with a Zeek header."""
    rnd = random.Random(seed)
    head = sample("kerberos").split(b"\n1788")[0].decode() + "\n"
    users = [f"adm-user{i}" for i in range(200)]
    hosts = [f"jp-osa-fs{i:02d}.corp.example.co.jp" for i in range(50)]
    start = 1788876191
    lines = [head]
    for i in range(n):
        tgs = rnd.random() < 0.7
        ok = rnd.random() < 0.95
        svc = f"cifs/{rnd.choice(hosts)}" if tgs else "krbtgt/CORP.EXAMPLE.CO.JP"
        lines.append(
            f"{start + i // 10}.{rnd.randrange(1_000_000):06d}\tC{i:017d}\t"
            f"10.20.{rnd.randrange(256)}.{rnd.randrange(256)}\t{rnd.randrange(1024, 65535)}\t"
            f"10.20.1.10\t88\t{'TGS' if tgs else 'AS'}\t{rnd.choice(users)}/CORP.EXAMPLE.CO.JP\t"
            f"{svc}\t{'T' if ok else 'F'}\t{'-' if ok else 'KDC_ERR_PREAUTH_FAILED'}\t-\t"
            "2136422885.000000\taes256-cts-hmac-sha1-96\tT\tT\t-\t-\t-\t-\n"
        )
    return "".join(lines).encode()
