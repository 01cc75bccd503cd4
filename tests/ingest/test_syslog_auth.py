"""syslog_auth: golden sshd/sudo rows (RFC 3164, RFC 3339, RFC 5424 lines), years, sniffing."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, NOW, ZEEK_HEADER, zeek_line

from ashiato.errors import IngestError
from ashiato.ingest import ecs_json, journald, lanl_auth, syslog_auth, zeek_conn
from ashiato.ingest.base import ParseContext
from ashiato.ingest.syslog_auth import PARSER
from conftest import SHA, parse_bytes

DATA = Path(__file__).parent.parent / "ingest" / "data"
LOG = (DATA / "syslog" / "auth.log").read_bytes()


def _ts(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def test_golden() -> None:
    table, rej = parse_bytes(PARSER, LOG)
    assert rej == []
    cols = (
        "ts",
        "kind",
        "outcome",
        "status",
        "user",
        "auth_package",
        "src_ip",
        "src_port",
        "dst_host",
        "process",
    )
    rows = [tuple(r[c] for c in cols) for r in table.to_pylist()]
    assert rows == [
        (
            _ts(2026, 9, 8, 5, 52, 39),
            "logon",
            "success",
            None,
            "alice",
            "publickey",
            "10.20.3.17",
            52605,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 5, 53, 1),
            "logon_failure",
            "failure",
            "invalid user",
            "admin",
            "password",
            "203.0.113.9",
            40022,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 5, 53, 2),
            "logon_failure",
            "failure",
            None,
            "root",
            "password",
            "203.0.113.9",
            40023,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 5, 53, 5),
            "logon_failure",
            "failure",
            "invalid user",
            "oracle",
            None,
            "203.0.113.9",
            40030,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 5, 54, 0),
            "process_start",
            "success",
            None,
            "alice",
            None,
            None,
            None,
            "web01",
            "/usr/bin/systemctl restart nginx",
        ),
        (
            _ts(2026, 9, 8, 5, 54, 10),
            "logon_failure",
            "failure",
            "authentication failure",
            "bob",
            None,
            None,
            None,
            "web01",
            "sudo",
        ),
        (
            _ts(2026, 9, 8, 5, 55, 0),
            "other",
            "unknown",
            None,
            None,
            None,
            None,
            None,
            "web01",
            "CRON",
        ),
        (
            _ts(2026, 9, 8, 5, 56, 0),
            "logoff",
            "success",
            None,
            "alice",
            None,
            "10.20.3.17",
            52605,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 5, 56, 0),
            "logoff",
            "success",
            None,
            "alice",
            None,
            None,
            None,
            "web01",
            "sshd",
        ),
        (
            _ts(2026, 9, 7, 21, 0, 0, 123456),
            "logon",
            "success",
            None,
            "carol",
            "password",
            "10.0.0.5",
            2222,
            "db01",
            "sshd",
        ),
        (
            _ts(2026, 9, 8, 6, 1, 0),
            "logon_failure",
            "failure",
            "3 incorrect password attempts",
            "dave",
            None,
            None,
            None,
            "db02",
            "/bin/sh",
        ),
    ]
    sudo = table.to_pylist()[4]
    assert dict(sudo["raw"])["target_user"] == "root" and sudo["log_host"] == "web01"
    assert dict(table.to_pylist()[6]["raw"])["message"].startswith("(root) CMD")
    assert table.column("source_offset").to_pylist() == list(range(1, 12))


def test_year_and_zone() -> None:
    line = b"Dec 31 23:30:00 h sshd[1]: Invalid user x from 1.2.3.4\n"
    ctx = ParseContext(SHA, "/x", NOW, tz="Asia/Tokyo")
    pb = next(PARSER.parse(io.BytesIO(line), ctx))
    assert pb.batch.column("ts")[0].as_py() == _ts(2025, 12, 31, 14, 30)  # Dec 31 is future in 2026
    ctx = ParseContext(SHA, "/x", NOW, options={"syslog.year": "2024"})
    pb = next(PARSER.parse(io.BytesIO(line), ctx))
    assert pb.batch.column("ts")[0].as_py() == _ts(2024, 12, 31, 23, 30)
    with pytest.raises(IngestError):
        next(PARSER.parse(io.BytesIO(line), ParseContext(SHA, "/x", NOW, tz="Mars/Base")))


def test_malformed_lines() -> None:
    data = (
        b"hello world\n"  # 1
        + b"Feb 30 10:00:00 h sshd[1]: Accepted password for a from 1.1.1.1 port 22 ssh2\n"  # 2
        + b"Sep  8 05:52:39 h sshd[1]: Accepted password for a from 1.1.1.1 port 99999 ssh2\n"  # 3
        + b"Sep  8 05:52:39 h \xff\n"  # 4
        + b"<13>1 1985-01-01T00:00:00Z h app - - - old\n"  # 5
        + b"Sep  8 05:52:39 h -- MARK --\n"  # 6 stored as other
    )
    table, rej = parse_bytes(PARSER, data)
    assert table.column("source_offset").to_pylist() == [6]
    assert {r.offset: r.reason for r in rej} == {
        1: "not a syslog line (no RFC 3164, RFC 3339 or RFC 5424 header)",
        2: "invalid timestamp",
        3: "port out of range in port",
        4: "invalid UTF-8 at byte 18",
        5: "implausible timestamp in timestamp: before 1990",
    }


def test_sniff() -> None:
    assert PARSER.sniff(LOG, "auth.log")
    assert PARSER.sniff(LOG[:300], "auth.log")  # cut mid-line
    others = [
        EXAMPLE_LINE + b"\n",
        (ZEEK_HEADER + zeek_line()).encode(),
        (DATA / "lanl" / "auth.txt").read_bytes(),
        b'{"__REALTIME_TIMESTAMP":"1","MESSAGE":"x"}\n',
        b"just text\nmore text\n",
    ]
    for head in others:
        assert not PARSER.sniff(head, "x")
    for p in (ecs_json.PARSER, zeek_conn.PARSER, lanl_auth.PARSER, journald.PARSER):
        assert not p.sniff(LOG, "auth.log")
    assert syslog_auth.PARSER.name == "syslog_auth"


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=80) | st.sampled_from(LOG.split(b"\n")[:11]), max_size=8))
def test_random_lines_never_raise(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    records = sum(1 for ln in data.split(b"\n") if ln and not ln.isspace())
    table, rej = parse_bytes(PARSER, data)
    assert table.num_rows + len(rej) == records
