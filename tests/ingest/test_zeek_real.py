"""Every real Zeek log in shared/data/real/zeek-wrccdc-2018-sample: no crash, full accounting.

The collectors' ``_inventory.csv`` gives each file's record count; the Zeek parsers must read
exactly that many records, store or reject each (with a reason), and find the known content.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ingest_samples import NOW

from ashiato.ingest import (
    zeek_conn,
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_other,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import ParseContext, Parser

REAL = Path(os.environ.get("ASHIATO_REAL_DATA", Path(__file__).parents[3] / "shared/data/real"))
FOLDER = REAL / "zeek-wrccdc-2018-sample"
ZEEK: list[Parser] = [
    zeek_conn.PARSER,
    zeek_kerberos.PARSER,
    zeek_ntlm.PARSER,
    zeek_rdp.PARSER,
    zeek_smb_mapping.PARSER,
    zeek_smb_files.PARSER,
    zeek_dce_rpc.PARSER,
    zeek_other.PARSER,
]

pytestmark = pytest.mark.skipif(not FOLDER.is_dir(), reason=f"no Zeek sample at {FOLDER}")


def _inventory() -> dict[str, int]:
    if not FOLDER.is_dir():
        return {}
    with (FOLDER / "_inventory.csv").open(newline="") as fh:
        return {r["path"]: int(r["records"]) for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def parsed() -> dict[str, tuple[str, list[dict[str, Any]], list[Any]]]:
    out = {}
    for f in sorted(FOLDER.glob("*.log.gz")):
        with gzip.open(f) as fh:
            head = fh.read(64 * 1024)
        names = [p for p in ZEEK if p.sniff(head, f.name)]
        assert len(names) == 1, (f.name, [p.name for p in names])
        parser = names[0]
        ctx = ParseContext(sha256="0" * 64, path=str(f), now=NOW)
        rows: list[dict[str, Any]] = []
        rej: list[Any] = []
        with gzip.open(f) as fh:
            for pb in parser.parse(fh, ctx):
                rows.extend(pb.batch.to_pylist())
                rej.extend(pb.rejections)
        out[f.name] = (parser.name, rows, rej)
    return out


def test_every_file_read_in_full(parsed: dict[str, Any]) -> None:
    inv = _inventory()
    assert set(parsed) == set(inv)
    for name, (_, rows, rej) in parsed.items():
        assert len(rows) + len(rej) == inv[name], name
        assert all(r.reason and r.offset > 0 for r in rej), name
        if name != "loaded_scripts.log.gz":
            assert rej == [], (name, rej[:3])
    _, rows, rej = parsed["loaded_scripts.log.gz"]  # no ts column: nothing to place in time
    assert rows == [] and {r.reason for r in rej} == {"#fields header lacks required column ts"}


def test_parsers_chosen(parsed: dict[str, Any]) -> None:
    chosen = {name: p for name, (p, _, _) in parsed.items()}
    for log in ("kerberos", "ntlm", "rdp", "smb_mapping", "smb_files", "dce_rpc"):
        assert chosen.pop(f"{log}.log.gz") == f"zeek_{log}"
    assert set(chosen.values()) == {"zeek_other"}


def test_known_content(parsed: dict[str, Any]) -> None:
    _, krb, _ = parsed["kerberos.log.gz"]
    assert {r["kind"] for r in krb} == {"kerberos_tgt"}  # all AS requests
    assert {r["domain"] for r in krb} == {"NM"}
    assert [r["status"] for r in krb if r["outcome"] == "failure"] == ["KDC_ERR_WRONG_REALM"]

    _, ntlm, _ = parsed["ntlm.log.gz"]
    outcomes = Counter((r["kind"], r["outcome"]) for r in ntlm)
    assert outcomes == {("logon", "success"): 206, ("logon", "unknown"): 216}  # no F in this set
    users = {r["user"] for r in ntlm if r["user"]}
    assert {"administrator", "guest", "david"} <= users
    assert all(r["auth_package"] == "NTLM" and r["dst_ip"] for r in ntlm)
    assert "kramer" in {r["dst_host"] for r in ntlm}

    _, rdp, _ = parsed["rdp.log.gz"]
    assert len(rdp) == 4122 and {r["logon_type"] for r in rdp} == {10}
    assert Counter(r["outcome"] for r in rdp) == {"success": 44, "failure": 2, "unknown": 4076}
    assert "nessus" in {r["user"] for r in rdp}

    _, maps, _ = parsed["smb_mapping.log.gz"]
    assert {"\\\\*\\ADMIN$", "\\\\*\\IPC$"} <= {r["share"] for r in maps}
    _, files, _ = parsed["smb_files.log.gz"]
    assert "Temp\\wdszAPrV.tmp" in {r["path"] for r in files}
    _, rpc, _ = parsed["dce_rpc.log.gz"]
    assert ("svcctl", "CreateServiceW") in {(r["service"], r["path"]) for r in rpc}

    _, weird, _ = parsed["weird.log.gz"]
    assert {dict(r["raw"])["_path"] for r in weird} == {"weird"}
    assert all(r["ts"].year == 2018 for r in weird)


APT29 = REAL / "otrf-security-datasets/compound/apt29/day1/zeek/individual_zeek_logs"


@pytest.mark.skipif(not APT29.is_dir(), reason="no OTRF APT29 Zeek logs")
def test_otrf_apt29_zeek_json() -> None:
    """ROCK-style Zeek JSON (``@stream``, ``id_orig_h``): each log to its parser, all stored."""
    kinds: Counter[tuple[str, str]] = Counter()
    users = set()
    for f in sorted(APT29.glob("*.log")):
        head = f.read_bytes()[: 64 * 1024]
        claims = [p for p in ZEEK if p.sniff(head, f.name)]
        log = f.stem.split("_", 1)[1]
        expect = f"zeek_{log}" if f"zeek_{log}" in {p.name for p in ZEEK} else "zeek_other"
        assert [p.name for p in claims] == [expect], f.name
        ctx = ParseContext(sha256="0" * 64, path=str(f), now=NOW)
        with f.open("rb") as fh:
            for pb in claims[0].parse(fh, ctx):
                assert pb.rejections == [], f.name
                for r in pb.batch.to_pylist():
                    kinds[(claims[0].name, r["kind"])] += 1
                    users.add((r["user"], r["domain"]))
    assert kinds[("zeek_kerberos", "kerberos_tgt")] > 0
    assert kinds[("zeek_smb_mapping", "share_access")] > 0
    assert kinds[("zeek_conn", "network_flow")] == 479 + 134
    assert ("pbeesly", "DMEVALS") in users
