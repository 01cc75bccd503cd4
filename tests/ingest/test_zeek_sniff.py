"""Zeek sniffing: each log claimed by its own parser only, other Zeek logs by zeek_other only."""

from __future__ import annotations

import pytest
from ingest_samples import EXAMPLE_LINE, ZEEK_HEADER, zeek_line
from zeek_samples import MAPPED, OTHER_FIELDS, other_head, other_json, sample, to_json

from ashiato.ingest import (
    ecs_json,
    zeek_conn,
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_other,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import Parser
from ashiato.ingest.registry import PARSERS as REGISTERED
from ashiato.ingest.registry import detect

ZEEK: dict[str, Parser] = {
    "conn": zeek_conn.PARSER,
    "kerberos": zeek_kerberos.PARSER,
    "ntlm": zeek_ntlm.PARSER,
    "rdp": zeek_rdp.PARSER,
    "smb_mapping": zeek_smb_mapping.PARSER,
    "smb_files": zeek_smb_files.PARSER,
    "dce_rpc": zeek_dce_rpc.PARSER,
}
ALL: list[Parser] = [*ZEEK.values(), zeek_other.PARSER, ecs_json.PARSER]


def _no_path(head: bytes) -> bytes:
    return b"".join(ln + b"\n" for ln in head.splitlines() if not ln.startswith(b"#path"))


def heads(log: str) -> dict[str, bytes]:
    tsv = (ZEEK_HEADER + zeek_line()).encode() if log == "conn" else sample(log)
    return {"tsv": tsv, "tsv-no-path": _no_path(tsv), "json": to_json(tsv)}


def claimed(head: bytes) -> list[str]:
    return [p.name for p in ALL if p.sniff(head, "f")]


@pytest.mark.parametrize("log", list(ZEEK))
def test_each_log_claimed_by_its_parser_only(log: str) -> None:
    for shape, head in heads(log).items():
        assert claimed(head) == [ZEEK[log].name], shape


@pytest.mark.parametrize("log", list(OTHER_FIELDS))
def test_unmapped_logs_go_to_zeek_other_only(log: str) -> None:
    assert claimed(other_head(log)) == ["zeek_other"]
    assert claimed(other_head(log, with_path=False)) == ["zeek_other"]
    json_claims = claimed(other_json(log))
    keys = set(OTHER_FIELDS[log].split())
    expect = ["zeek_other"] if "uid" in keys or "id.orig_h" in keys or "fuid" in keys else []
    assert json_claims == expect


def test_real_data_style_sample_from_dns_file() -> None:
    assert claimed(sample("dns")) == ["zeek_other"]
    assert claimed(b'{"_path":"x509","ts":1.0,"fingerprint":"ab"}\n') == ["zeek_other"]


def test_cut_json_head_and_non_zeek_input() -> None:
    line = to_json(sample("kerberos")).split(b"\n")[0]
    assert claimed(line[: len(line) - 5]) == ["zeek_kerberos"]
    assert claimed(EXAMPLE_LINE + b"\n") == ["ecs_json"]
    for junk in (b"", b"\n\n", b"hello\n", b"# comment\nx\n", b"[1,2]\n", b"{\n", b"\x1f\x8b\x08"):
        assert [n for n in claimed(junk) if n != "ecs_json"] == [], junk


def test_other_separator_in_head() -> None:
    head = sample("ntlm").replace(b"\t", b"|").replace(b"#separator \\x09", b"#separator \\x7c")
    assert claimed(head) == ["zeek_ntlm"]


def test_registry_detects_each() -> None:
    names = {p.name for p in REGISTERED}
    if "zeek_kerberos" not in names:
        pytest.skip("Zeek log parsers not registered")
    for log in MAPPED:
        p = detect(sample(log), f"{log}.log")
        assert p is not None and p.name == f"zeek_{log}"
    p = detect(sample("dns"), "dns.log")
    assert p is not None and p.name == "zeek_other"
