"""Zeek kerberos/ntlm/rdp/smb/dce_rpc/other logs: golden rows from TSV and JSON, header handling."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from ingest_samples import NOW
from zeek_samples import MAPPED, sample, to_json

from ashiato.ingest import (
    zeek_dce_rpc,
    zeek_kerberos,
    zeek_ntlm,
    zeek_other,
    zeek_rdp,
    zeek_smb_files,
    zeek_smb_mapping,
)
from ashiato.ingest.base import ROW_FIELDS, ParseContext, Parser
from ashiato.ingest.zeek import event, unescape
from ashiato.ingest.zeek_smb_mapping import unc
from conftest import SHA, parse_bytes

PARSERS: dict[str, Parser] = {
    "kerberos": zeek_kerberos.PARSER,
    "ntlm": zeek_ntlm.PARSER,
    "rdp": zeek_rdp.PARSER,
    "smb_mapping": zeek_smb_mapping.PARSER,
    "smb_files": zeek_smb_files.PARSER,
    "dce_rpc": zeek_dce_rpc.PARSER,
    "dns": zeek_other.PARSER,
}
COLS = (
    "ts", "kind", "outcome", "status", "user", "domain", "logon_type", "auth_package",
    "src_host", "src_ip", "src_port", "dst_host", "dst_ip", "dst_port", "service", "share",
    "path", "record_id",
)  # fmt: skip


def t(epoch: str) -> datetime:
    sec, _, frac = epoch.partition(".")
    return datetime.fromtimestamp(int(sec), UTC) + timedelta(microseconds=int((frac + "0" * 6)[:6]))


KRB, NTLM, ADM = "Kerberos", "NTLM", "\\\\*\\ADMIN$"
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "kerberos": [
        (t("1788876191.036086"), "kerberos_tgt", "success", None, "adm-tanaka", "CORP", None, KRB,
         None, "10.20.3.17", 52601, None, "10.20.1.10", 88, "krbtgt/CORP.EXAMPLE.CO.JP", None,
         None, "CK1aaaaaaaaaaaaaa1"),
        (t("1788876192.5"), "kerberos_service", "success", None, "adm-tanaka", "CORP", None, KRB,
         None, "10.20.3.17", 52602, "jp-osa-fs01", "10.20.1.10", 88,
         "cifs/jp-osa-fs01.corp.example.co.jp", None, None, "CK1aaaaaaaaaaaaaa2"),
        (t("1788876193.000001"), "kerberos_tgt", "failure", "KDC_ERR_PREAUTH_FAILED",
         "svc-backup", "CORP", None, KRB, None, "10.20.7.99", 40001, None, "10.20.1.10", 88,
         "krbtgt/CORP.EXAMPLE.CO.JP", None, None, "CK1aaaaaaaaaaaaaa3"),
        (t("1788876194"), "kerberos_service", "unknown", None, "jp-osa-ws017$", "CORP", None, KRB,
         None, "10.20.3.17", 52604, "jp-osa-fs01", "10.20.1.10", 88, "JP-OSA-FS01$", None, None,
         "CK1aaaaaaaaaaaaaa4"),
        (t("1788876195.25"), "kerberos_tgt", "unknown", None, None, "NM", None, KRB, None,
         "10.128.0.241", 58444, None, "10.47.1.208", 88, "krbtgt/NM", None, None,
         "CK1aaaaaaaaaaaaaa5"),
    ],
    "ntlm": [
        (t("1788876191.036086"), "logon", "success", None, "adm-tanaka", "CORP", None, NTLM,
         "jp-osa-ws017", "10.20.3.17", 52611, "jp-osa-fs01", "10.20.1.4", 445, None, None, None,
         "CN1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "logon_failure", "failure", None, "administrator", "WORKSTATION", None,
         NTLM, "workstation", "10.128.0.214", 36173, "kramer", "10.47.8.19", 445, None, None,
         None, "CN1aaaaaaaaaaaaaa2"),
        (t("1788876193"), "logon", "unknown", None, None, None, None, NTLM, None, "10.164.94.120",
         36315, "snozberry", "10.47.8.208", 445, None, None, None, "CN1aaaaaaaaaaaaaa3"),
        (t("1788876194"), "logon", "success", None, "administrator", "JERRY", None, NTLM, "null",
         "10.128.0.214", 44094, "pc-helen", "10.47.8.152", 445, None, None, None,
         "CN1aaaaaaaaaaaaaa4"),
    ],
    "rdp": [
        (t("1788876191.036086"), "logon", "success", None, "adm-tanak", None, 10, None,
         "jp-osa-ws017", "10.20.3.17", 52621, None, "10.20.5.20", 3389, "rdp", None, None,
         "CR1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "logon", "unknown", None, None, None, 10, None, None, "10.164.94.120",
         39681, None, "10.47.3.155", 3389, "rdp", None, None, "CR1aaaaaaaaaaaaaa2"),
        (t("1788876193"), "logon", "failure", "SSL_NOT_ALLOWED_BY_SERVER", "sato", "CORP", 10,
         None, None, "10.20.7.99", 40003, None, "10.20.5.20", 3389, "rdp", None, None,
         "CR1aaaaaaaaaaaaaa3"),
        (t("1788876194"), "logon", "unknown", None, "nmap", None, 10, None, None, "10.20.7.99",
         40004, None, "10.20.5.21", 3389, "rdp", None, None, "CR1aaaaaaaaaaaaaa4"),
    ],
    "smb_mapping": [
        (t("1788876191.036086"), "share_access", "unknown", None, None, None, None, None, None,
         "10.20.3.17", 52631, None, "10.20.1.4", 445, "DISK", ADM, None, "CS1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "share_access", "unknown", None, None, None, None, None, None,
         "10.20.3.17", 52632, "jp-osa-fs01", "10.20.1.4", 445, "PIPE", "\\\\*\\IPC$", None,
         "CS1aaaaaaaaaaaaaa2"),
        (t("1788876193"), "share_access", "unknown", None, None, None, None, None, None,
         "10.20.3.17", 52633, "jp-osa-fs01", "10.20.1.4", 445, "DISK", "\\\\*\\Users", None,
         "CS1aaaaaaaaaaaaaa3"),
    ],
    "smb_files": [
        (t("1788876191.036086"), "share_object", "unknown", None, None, None, None, None, None,
         "10.20.7.99", 44132, "jp-osa-fs01", "10.20.1.4", 445, None, ADM, "Temp\\wdszAPrV.tmp",
         "CF1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "share_object", "unknown", None, None, None, None, None, None,
         "10.20.7.99", 44133, None, "10.20.1.4", 445, None, None, "svcctl", "CF1aaaaaaaaaaaaaa2"),
    ],
    "dce_rpc": [
        (t("1788876191.036086"), "other", "unknown", None, None, None, None, None, None,
         "10.20.7.99", 44140, None, "10.20.1.4", 445, "svcctl", None, "CreateServiceW",
         "CD1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "other", "unknown", None, None, None, None, None, None, "10.20.7.99",
         44141, None, "10.20.1.10", 49667, "drsuapi", None, "DRSGetNCChanges",
         "CD1aaaaaaaaaaaaaa2"),
        (t("1788876193"), "other", "unknown", None, None, None, None, None, None, "10.20.7.99",
         44142, None, "10.20.1.4", 135, "IObjectExporter", None, "ComplexPing",
         "CD1aaaaaaaaaaaaaa3"),
    ],
    "dns": [
        (t("1788876191.036086"), "other", "unknown", None, None, None, None, None, None,
         "10.20.3.17", 53001, None, "10.20.1.10", 53, None, None, None, "CQ1aaaaaaaaaaaaaa1"),
        (t("1788876192"), "other", "unknown", None, None, None, None, None, None, "10.20.3.17",
         53002, None, "10.20.1.10", 53, None, None, None, "CQ1aaaaaaaaaaaaaa2"),
    ],
}  # fmt: skip
RAW_FIRST = {
    "kerberos": {
        "till": "2136422885.000000",
        "cipher": "aes256-cts-hmac-sha1-96",
        "forwardable": "T",
        "renewable": "T",
    },
    "ntlm": {"server_tree_name": "corp.example.co.jp"},
    "smb_mapping": {"path": "\\\\10.20.1.4\\ADMIN$"},
    "smb_files": {
        "fuid": "Fx1",
        "action": "SMB::FILE_OPEN",
        "path": "\\\\JP-OSA-FS01\\ADMIN$",
        "name": "Temp\\wdszAPrV.tmp",
        "size": "196",
        "times.modified": "1788876100.5",
        "times.accessed": "1788876100.5",
        "times.created": "1788876100.5",
        "times.changed": "1788876100.5",
    },
    "dce_rpc": {"rtt": "0.000431", "named_pipe": "\\pipe\\ntsvcs"},
    "dns": {
        "proto": "udp",
        "trans_id": "4711",
        "query": "jp-osa-fs01.corp.example.co.jp",
        "qtype_name": "A",
        "rcode_name": "NOERROR",
        "answers": "10.20.1.4",
        "_path": "dns",
    },
}


def rows(table: Any) -> list[tuple[Any, ...]]:
    return [tuple(r[c] for c in COLS) for r in table.to_pylist()]


@pytest.mark.parametrize("log", list(EXPECTED))
def test_golden_tsv(log: str) -> None:
    table, rej = parse_bytes(PARSERS[log], sample(log))
    assert rej == []
    assert rows(table) == EXPECTED[log]
    assert table.column("source_offset").to_pylist() == list(range(9, 9 + table.num_rows))
    assert table.column("event_id")[0].as_py() == f"{SHA[:16]}-9"
    assert set(table.column("source").to_pylist()) == {PARSERS[log].name}
    if log in RAW_FIRST:
        assert dict(table.column("raw")[0].as_py()) == RAW_FIRST[log]


def test_golden_rdp_raw_keeps_sets_and_empty() -> None:
    table, _ = parse_bytes(zeek_rdp.PARSER, sample("rdp"))
    raw = dict(table.column("raw")[0].as_py())
    assert raw["client_channels"] == "rdpdr,rdpsnd,cliprdr"
    assert raw["client_dig_product_id"] == ""  # (empty)
    assert raw["keyboard_layout"] == "English - United States"
    assert "cookie" not in raw and "result" not in raw


@pytest.mark.parametrize("iso", [False, True], ids=["epoch", "iso"])
@pytest.mark.parametrize("log", list(EXPECTED))
def test_json_lines_give_the_same_rows(log: str, iso: bool) -> None:
    data = to_json(sample(log), iso_ts=iso)
    table, rej = parse_bytes(PARSERS[log], data)
    assert rej == []
    assert rows(table) == EXPECTED[log]
    tsv_table, _ = parse_bytes(PARSERS[log], sample(log))
    for a, b in zip(
        table.column("raw").to_pylist(), tsv_table.column("raw").to_pylist(), strict=True
    ):
        assert {k for k, _ in a} - {"_path"} == {k for k, _ in b} - {"_path"}


def test_json_nested_id_and_path() -> None:
    obj = orjson.loads(to_json(sample("ntlm")).split(b"\n")[0])
    nested = {k: v for k, v in obj.items() if not k.startswith("id.")}
    nested["id"] = {k[3:]: v for k, v in obj.items() if k.startswith("id.")}
    nested["_path"] = "ntlm"
    wrong = dict(obj, _path="dns")
    data = orjson.dumps(nested) + b"\n" + orjson.dumps(wrong) + b"\n"
    table, rej = parse_bytes(zeek_ntlm.PARSER, data)
    assert rows(table) == EXPECTED["ntlm"][:1]
    assert [(r.offset, r.reason) for r in rej] == [
        (2, "record of Zeek log 'dns' in a 'ntlm' input")
    ]


def _ctx() -> ParseContext:
    return ParseContext(sha256=SHA, path="/in/x.log.gz", now=NOW)


def _parse_stream(parser: Parser, stream: Any) -> tuple[int, list[Any]]:
    n, rej = 0, []
    for pb in parser.parse(stream, _ctx()):
        n += pb.batch.num_rows
        rej.extend(pb.rejections)
    return n, rej


def test_gzip_and_truncated_gzip() -> None:
    data = sample("rdp") * 200  # repeated headers mid-file too
    packed = gzip.compress(data)
    n, rej = _parse_stream(zeek_rdp.PARSER, gzip.GzipFile(fileobj=io.BytesIO(packed)))
    assert (n, rej) == (800, [])
    cut = packed[: len(packed) // 2]
    n, rej = _parse_stream(zeek_rdp.PARSER, gzip.GzipFile(fileobj=io.BytesIO(cut)))
    assert 0 < n < 800
    assert len(rej) == 1 and rej[0].reason.startswith("truncated gzip stream after line")


def test_repeated_header_reordered_fields_and_placeholders() -> None:
    lines = sample("kerberos").decode().split("\n")
    fields = lines[6].split("\t")[1:]
    order = list(reversed(range(len(fields))))
    second = [
        "#separator \\x7c",
        "#unset_field|NONE",
        "#empty_field|EMPTY",
        "#path|kerberos",
        "#fields|" + "|".join(fields[i] for i in order),
    ]
    data = [*lines[:10], *second]
    for ln in lines[8:10]:
        vals = ln.split("\t")
        data.append("|".join(("NONE" if vals[i] == "-" else vals[i]) for i in order))
    table, rej = parse_bytes(zeek_kerberos.PARSER, "\n".join(data).encode())
    assert rej == []
    assert rows(table) == EXPECTED["kerberos"][:2] * 2
    assert table.column("source_offset").to_pylist() == [9, 10, 16, 17]


def test_missing_required_column_and_other_path_reject_with_reason() -> None:
    text = sample("kerberos").decode()
    no_type = text.replace("\trequest_type\t", "\trequest_kind\t")
    other = text.replace("#path\tkerberos", "#path\tntlm")
    table, rej = parse_bytes(zeek_kerberos.PARSER, (no_type + other + text).encode())
    assert table.num_rows == 5
    reasons = [r.reason for r in rej]
    assert (
        reasons
        == ["#fields header lacks required column request_type"] * 5
        + ["record of Zeek log 'ntlm' in a 'kerberos' input"] * 5
    )
    assert table.num_rows + len(rej) == 15


def test_malformed_records_are_counted_with_reasons() -> None:
    head = sample("ntlm").decode().split("\n1788")[0] + "\n"
    good = sample("ntlm").decode().split("\n")[8]
    v = good.split("\t")
    bad = [
        ("data line before a #fields header", good),
        ("expected 13 fields, got 2", "a\tb"),
        ("missing field ts", "\t".join(["-", *v[1:]])),
        ("missing field uid", "\t".join([v[0], "-", *v[2:]])),
        ("implausible timestamp in ts: before 1990", "\t".join(["99", *v[1:]])),
        (
            "implausible timestamp in ts: more than 2 days in the future",
            "\t".join(["4102444800", *v[1:]]),
        ),
        ("invalid timestamp in ts", "\t".join(["yesterday", *v[1:]])),
        ("non-numeric port in id.orig_p", "\t".join([*v[:3], "http", *v[4:]])),
        ("port out of range in id.resp_p", "\t".join([*v[:5], "70000", *v[6:]])),
        ("invalid JSON", '{"ts": 1788876191.5, "uid": '),
        ("invalid timestamp in ts", '{"ts": [1], "uid": "C1"}'),
        ("invalid timestamp in ts", '{"ts": "2026-13-45T00:00:00Z", "uid": "C1"}'),
        ("missing field uid", '{"ts": 1788876191.5, "id.orig_h": "10.0.0.1"}'),
        ("non-numeric port in id.resp_p", '{"ts": 1788876191.5, "uid": "C", "id.resp_p": true}'),
        ("port out of range in id.resp_p", '{"ts": 1788876191.5, "uid": "C", "id.resp_p": -1}'),
    ]
    (_, first), *rest = bad
    data = first + "\n" + head + "\n".join(b for _, b in rest) + "\n" + good + "\n"
    table, rej = parse_bytes(zeek_ntlm.PARSER, data.encode() + b"\xff\xfe\tx\n")
    assert table.num_rows == 1
    assert [r.reason for r in rej] == [*(r for r, _ in bad), "invalid UTF-8 at byte 0"]
    assert all(r.excerpt for r in rej)


def test_huge_field_and_escapes() -> None:
    head = sample("smb_files").decode().split("\n1788")[0] + "\n"
    v = sample("smb_files").decode().split("\n")[8].split("\t")
    esc = "\t".join([*v[:9], "a\\x09b\\\\c\\xe3\\x81\\x82", *v[10:]])
    huge = "\t".join([*v[:9], "x" * (2 << 20), *v[10:]])
    table, rej = parse_bytes(zeek_smb_files.PARSER, (head + esc + "\n" + huge + "\n").encode())
    assert table.column("path").to_pylist() == ["a\tb\\cあ"]
    assert [r.reason for r in rej] == ["line longer than 1048576 bytes"]


def test_helpers() -> None:
    assert unescape("\\\\\\\\h\\\\s\\x41") == "\\\\h\\sA"
    assert unc("\\\\[fe80::1]\\C$") == ("\\\\*\\C$", None)
    assert unc("ADMIN$") == ("ADMIN$", None)
    assert unc("-") == (None, None)
    assert zeek_kerberos.client_name("a@B.C") == ("a", "B")
    assert zeek_kerberos.client_name("alone") == ("alone", None)
    assert zeek_kerberos.service_host("HTTP/web.corp:8080") == "web"
    assert zeek_kerberos.service_host("cifs/10.0.0.1") is None
    assert zeek_kerberos.service_host("ldap/[fe80::1]:389") is None
    assert zeek_kerberos.service_host("krbtgt") is None
    row = event(0, "other", [None] * 5, 1)
    assert len(row) == len(ROW_FIELDS)


def test_mapped_logs_listed() -> None:
    assert set(MAPPED) == set(PARSERS) - {"dns"}


@pytest.mark.parametrize("log", list(EXPECTED))
def test_json_with_underscore_scope_and_stream(log: str) -> None:
    """ROCK/Kafka-style Zeek JSON: ``id_orig_h`` keys and the log name in ``@stream``."""
    lines = []
    for ln in to_json(sample(log)).splitlines():
        obj = {k.replace(".", "_"): v for k, v in orjson.loads(ln).items()}
        lines.append(orjson.dumps({"@stream": log, "@system": "sensor1", **obj}))
    data = b"\n".join(lines) + b"\n"
    assert [p.name for p in PARSERS.values() if p.sniff(data, "x")] == [PARSERS[log].name]
    table, rej = parse_bytes(PARSERS[log], data)
    assert rej == []
    assert rows(table) == EXPECTED[log]
