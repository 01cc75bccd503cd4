"""zeek_conn: golden TSV and JSON rows, header handling, counts on malformed input, sniffing."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_samples import ZEEK_HEADER, zeek_line

from ashiato.ingest.registry import detect
from ashiato.ingest.zeek_conn import PARSER
from conftest import parse_bytes

TS = datetime(2026, 9, 8, 14, 3, 11, 36086, tzinfo=UTC)


def test_golden_tsv() -> None:
    data = (ZEEK_HEADER + zeek_line() + zeek_line(uid="C2", service="-", duration="-")).encode()
    table, rej = parse_bytes(PARSER, data + b"#close\t2026-09-08-01-00-00\n")
    assert rej == []
    first, second = table.to_pylist()
    assert first["ts"] == TS
    assert (first["kind"], first["outcome"], first["record_id"]) == (
        "network_flow",
        "unknown",
        "Cnsu5m395zFmE9ikp4",
    )
    assert (first["src_ip"], first["src_port"], first["dst_ip"], first["dst_port"]) == (
        "10.20.3.17",
        52605,
        "10.20.1.4",
        445,
    )
    assert (first["protocol"], first["service"], first["duration_s"]) == ("tcp", "smb", 1.201128)
    assert (first["bytes_out"], first["bytes_in"]) == (1200, 403)
    assert first["source_offset"] == 9  # 8 header lines
    assert first["log_host"] is None and first["event_code"] is None
    raw = dict(first["raw"])
    assert raw["conn_state"] == "SF" and raw["history"] == "ShADadFf"
    assert "tunnel_parents" not in raw  # unset fields are left out
    assert (second["service"], second["duration_s"]) == (None, None)


def test_golden_json() -> None:
    obj = {
        "ts": 1788876191.036086,
        "uid": "CJ1",
        "id.orig_h": "10.0.0.1",
        "id.orig_p": 5000,
        "id.resp_h": "10.0.0.2",
        "id.resp_p": 3389,
        "proto": "tcp",
        "conn_state": "S0",
        "local_orig": True,
        "orig_bytes": 10,
    }
    iso = dict(obj, ts="2026-09-08T14:03:11.036086Z", uid="CJ2")
    table, rej = parse_bytes(PARSER, orjson.dumps(obj) + b"\n" + orjson.dumps(iso) + b"\n")
    assert rej == []
    a, b = table.to_pylist()
    assert a["ts"] == b["ts"] == TS
    assert (a["dst_port"], a["bytes_out"], a["bytes_in"]) == (3389, 10, None)
    assert dict(a["raw"]) == {"conn_state": "S0", "local_orig": "T"}


def test_header_changes_and_malformed_lines() -> None:
    other = (
        "#separator \\x09\n#unset_field\tNONE\n#fields\tuid\tts\tid.orig_h\tid.resp_h\tid.resp_p\n"
    )
    data = (
        zeek_line()  # 1: before any header
        + ZEEK_HEADER  # 2-9
        + zeek_line()  # 10
        + "\n"  # 11: blank, not a record
        + zeek_line(orig_p="http")  # 12
        + zeek_line(ts="99")  # 13: 1970
        + "a\tb\n"  # 14
        + zeek_line(orig_bytes="many")  # 15
        + other  # 16-18
        + "C9\t1788871391.5\t10.0.0.1\tNONE\t22\n"  # 19
    ).encode() + b"\xff\xfe\t\n"  # 20
    table, rej = parse_bytes(PARSER, data)
    assert table.column("source_offset").to_pylist() == [10, 19]
    assert table.column("dst_ip").to_pylist() == ["10.20.1.4", None]
    assert {r.offset: r.reason for r in rej} == {
        1: "data line before a #fields header",
        12: "non-numeric port in id.orig_p",
        13: "implausible timestamp in ts: before 1990",
        14: "expected 21 fields, got 2",
        15: "non-numeric orig_bytes",
        20: "invalid UTF-8 at byte 0",
    }


def test_sniff() -> None:
    head = (ZEEK_HEADER + zeek_line()).encode()
    assert PARSER.sniff(head, "conn.log")
    no_path = "\n".join(x for x in ZEEK_HEADER.split("\n") if not x.startswith("#path"))
    assert PARSER.sniff(no_path.encode(), "x")
    dns = b"#separator \\x09\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tquery\n"
    assert not PARSER.sniff(dns, "dns.log")
    assert PARSER.sniff(b'{"ts":1.0,"uid":"C","id.orig_h":"1.1.1.1","conn_state":"S0"}\n', "x")
    p = detect(head, "conn.log")
    assert p is not None and p.name == "zeek_conn"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40) | st.sampled_from([zeek_line(), "#fields\tts"]), max_size=8))
def test_random_lines_never_raise_and_counts_add_up(lines: list[str]) -> None:
    data = (ZEEK_HEADER + "\n".join(lines)).encode("utf-8", "surrogatepass")
    table, rej = parse_bytes(PARSER, data)
    records = sum(
        1 for ln in data.split(b"\n") if ln and not ln.isspace() and not ln.startswith(b"#")
    )
    assert table.num_rows + len(rej) == records
