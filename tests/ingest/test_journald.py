"""journald: golden rows from ``journalctl -o json`` lines, byte-array messages, sniffing."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, ZEEK_HEADER, zeek_line

from ashiato.ingest import ecs_json, syslog_auth, zeek_conn
from ashiato.ingest.journald import PARSER
from conftest import parse_bytes

US = 1788846759_123456  # 2026-09-08T05:52:39.123456Z


def entry(msg: object, ident: str | None = "sshd", **extra: object) -> bytes:
    obj: dict[str, object] = {
        "__CURSOR": "s=abc;i=1",
        "__REALTIME_TIMESTAMP": str(US),
        "_HOSTNAME": "Web01.corp.example",
        "MESSAGE": msg,
        "_PID": "1201",
    }
    if ident:
        obj["SYSLOG_IDENTIFIER"] = ident
    obj.update(extra)
    return orjson.dumps(obj) + b"\n"


def test_golden() -> None:
    data = (
        entry("Accepted password for alice from 10.0.0.9 port 50000 ssh2")
        + entry(list(b"Failed password for root from 10.0.0.8 port 1 ssh2\xff"))
        + entry("bob : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id", ident=None, _COMM="sudo")
        + entry("Started Session 3 of user alice.", ident="systemd")
    )
    table, rej = parse_bytes(PARSER, data)
    assert rej == []
    cols = ("ts", "kind", "user", "src_ip", "dst_host", "process", "record_id")
    rows = [tuple(r[c] for c in cols) for r in table.to_pylist()]
    ts = datetime(2026, 9, 8, 5, 52, 39, 123456, tzinfo=UTC)
    assert rows == [
        (ts, "logon", "alice", "10.0.0.9", "web01", "sshd", "s=abc;i=1"),
        (ts, "logon_failure", "root", "10.0.0.8", "web01", "sshd", "s=abc;i=1"),
        (ts, "process_start", "bob", None, "web01", "/bin/id", "s=abc;i=1"),
        (ts, "other", None, None, "web01", "systemd", "s=abc;i=1"),
    ]
    assert dict(table.to_pylist()[0]["raw"])["_PID"] == "1201"


def test_malformed() -> None:
    data = (
        b"not json\n"
        + b"[1,2]\n"
        + entry("x", __REALTIME_TIMESTAMP="soon")
        + entry("x", __REALTIME_TIMESTAMP="12")
        + entry({"a": 1})
        + entry("ok")
    )
    table, rej = parse_bytes(PARSER, data)
    assert table.column("source_offset").to_pylist() == [6]
    assert [r.reason for r in rej] == [
        "invalid JSON",
        "not a JSON object",
        "invalid timestamp in __REALTIME_TIMESTAMP",
        "implausible timestamp in __REALTIME_TIMESTAMP: before 1990",
        "invalid field MESSAGE: not text or bytes",
    ]


def test_sniff() -> None:
    assert PARSER.sniff(entry("x"), "j.json")
    for head in (EXAMPLE_LINE + b"\n", (ZEEK_HEADER + zeek_line()).encode(), b"Sep  8 h a: b\n"):
        assert not PARSER.sniff(head, "x")
    for p in (ecs_json.PARSER, zeek_conn.PARSER, syslog_auth.PARSER):
        assert not p.sniff(entry("x"), "j.json")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.binary(max_size=60) | st.sampled_from([entry("a"), entry([255, 1])]), max_size=8)
)
def test_random_lines_never_raise(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    records = sum(1 for ln in data.split(b"\n") if ln and not ln.isspace())
    table, rej = parse_bytes(PARSER, data)
    assert table.num_rows + len(rej) == records
