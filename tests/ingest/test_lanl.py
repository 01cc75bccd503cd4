"""LANL cyber1 auth/flows/proc: golden rows, exact line numbers on bad input, sniffing, labels."""

from __future__ import annotations

import bz2
import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, NOW, ZEEK_HEADER, zeek_line

from ashiato.errors import IngestError
from ashiato.ingest import ecs_json, lanl_auth, lanl_flows, lanl_proc, zeek_conn
from ashiato.ingest.base import ParseContext
from ashiato.ingest.lanl_redteam import matches, read_redteam
from conftest import SHA, parse_bytes

DATA = Path(__file__).parent / "data" / "lanl"
T0 = datetime(2015, 1, 1, tzinfo=UTC)
GOOD_AUTH = b"1,C625$@DOM1,U147@DOM1,C625,C625,Negotiate,Batch,LogOn,Success\n"


def _ts(sec: int) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + sec, UTC)


def _rows(table: object, *cols: str) -> list[tuple[object, ...]]:
    d = table.to_pylist()  # type: ignore[attr-defined]
    return [tuple(r[c] for c in cols) for r in d]


def test_auth_golden() -> None:
    table, rej = parse_bytes(lanl_auth.PARSER, (DATA / "auth.txt").read_bytes())
    assert rej == []
    cols = ("ts", "kind", "outcome", "user", "domain", "src_host", "dst_host", "logon_type")
    assert _rows(table, *cols) == [
        (_ts(1), "logon", "success", "u147", "DOM1", "c625", "c625", 4),
        (_ts(1), "logon", "success", "c625$", "DOM1", "c625", "c625", 5),
        (_ts(2), "logon_failure", "failure", "u22", "DOM1", "c1065", "c586", 3),
        (_ts(3), "kerberos_tgt", "success", "u22", "DOM1", "c1065", "c1065", None),
        (_ts(3), "kerberos_service", "success", "u22", "DOM1", "c1065", "c529", None),
        (_ts(4), "logoff", "success", "anonymous logon", "C586", "c1250", "c586", 3),
        (_ts(5), "other", "success", "u66", "DOM1", None, "c2106", 10),
    ]
    first = table.to_pylist()[0]
    assert dict(first["raw"]) == {"source_user": "C625$@DOM1", "logon_type": "Batch"}
    assert first["auth_package"] == "Negotiate" and first["event_code"] is None
    assert first["event_id"] == SHA[:16] + "-1" and first["source"] == "lanl_auth"
    assert table.column("source_offset").to_pylist() == [1, 2, 3, 4, 5, 6, 7]
    assert table.column("auth_package").to_pylist()[-1] is None


def test_auth_bad_rows_keep_line_numbers() -> None:
    data = (
        GOOD_AUTH  # 1
        + b"\n"  # 2 blank: not a record
        + b"2,a,b\n"  # 3
        + b"x,U1@D,U1@D,C1,C2,NTLM,Network,LogOn,Success\n"  # 4
        + b"3,U1@D,U1@D,C1,C2,NTLM,Network,Sideways,Success\n"  # 5
        + b"3,U1@D,U1@D,C1,C2,NTLM,Network,LogOn,Maybe\n"  # 6
        + b"3,U1@D,\xff\xfe,C1,C2,NTLM,Network,LogOn,Success\n"  # 7
        + b"9999999999,U1@D,U1@D,C1,C2,NTLM,Network,LogOn,Success\n"  # 8
        + b"  \r\n"  # 9 blank
        + GOOD_AUTH.replace(b"1,", b"10,", 1)  # 10
        + b"11,"
        + b"A" * 2_000_000
        + b"\n"  # 11 too long
        + GOOD_AUTH.rstrip(b"\n")  # 12, no final newline
    )
    table, rej = parse_bytes(lanl_auth.PARSER, data)
    assert table.column("source_offset").to_pylist() == [1, 10, 12]
    assert {r.offset: r.reason for r in rej} == {
        3: "expected 9 fields, got 3",
        4: "non-numeric time",
        5: "unknown authentication orientation",
        6: "success/failure is neither Success nor Fail",
        7: "invalid UTF-8 at byte 7",
        8: "implausible timestamp in time: more than 2 days in the future",
        11: "line longer than 1048576 bytes",
    }
    assert all(len(r.excerpt) <= 200 for r in rej)


def test_auth_many_blocks_and_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from ashiato.ingest import lanl

    monkeypatch.setattr(lanl, "BLOCK_SIZE", 1 << 16)
    lines = [
        f"{i},U{i % 7}@DOM1,U{i % 7}@DOM1,C{i % 5},C1,NTLM,Network,LogOn,Success\n"
        for i in range(120_000)
    ]
    lines[70_000] = "broken\n"
    lines[100_001] = "\n"
    table, rej = parse_bytes(lanl_auth.PARSER, "".join(lines).encode())
    assert [(r.offset, r.reason) for r in rej] == [(70_001, "expected 9 fields, got 1")]
    offs = table.column("source_offset").to_pylist()
    assert len(offs) == 119_998 and offs[70_000] == 70_002 and offs[-1] == 120_000
    assert table.column("ts").to_pylist()[-1] == _ts(119_999)


def test_epoch_option_and_compressed(tmp_path: Path) -> None:
    ctx = ParseContext(SHA, "/x", NOW, options={"lanl.epoch": "2020-03-01T00:00:00+09:00"})
    for opener in (gzip.compress, bz2.compress):
        stream = io.BytesIO(opener(GOOD_AUTH))
        raw_stream = (
            gzip.GzipFile(fileobj=stream) if opener is gzip.compress else bz2.BZ2File(stream)
        )
        batches = list(lanl_auth.PARSER.parse(raw_stream, ctx))  # type: ignore[arg-type]
        assert batches[0].batch.column("ts")[0].as_py() == datetime(
            2020, 2, 29, 15, 0, 1, tzinfo=UTC
        )
    bad = ParseContext(SHA, "/x", NOW, options={"lanl.epoch": "yesterday"})
    with pytest.raises(IngestError, match=r"lanl\.epoch"):
        list(lanl_auth.PARSER.parse(io.BytesIO(GOOD_AUTH), bad))


def test_truncated_gzip_keeps_whole_lines() -> None:
    data = gzip.compress(GOOD_AUTH * 5000)
    stream = gzip.GzipFile(fileobj=io.BytesIO(data[: len(data) // 2]))
    ctx = ParseContext(SHA, "/x", NOW)
    pbs = list(lanl_auth.PARSER.parse(stream, ctx))  # type: ignore[arg-type]
    rows = sum(p.batch.num_rows for p in pbs)
    rej = [r for p in pbs for r in p.rejections]
    assert rows > 0 and len(rej) == 1 and "truncated" in rej[0].reason
    assert rej[0].offset == rows + 1


def test_flows_golden() -> None:
    table, rej = parse_bytes(lanl_flows.PARSER, (DATA / "flows.txt").read_bytes())
    assert rej == []
    cols = ("ts", "src_host", "src_port", "dst_host", "dst_port", "protocol", "bytes_out")
    assert _rows(table, *cols) == [
        (_ts(1), "c3090", None, "c3420", None, "tcp", 144),
        (_ts(1), "c3538", None, "c3371", 443, "udp", 60),
        (_ts(2), "c1015", None, "c15487", 445, "tcp", 25627),
        (_ts(3), "c4", None, "c5", None, "50", 100),
    ]
    first = table.to_pylist()[0]
    assert (first["kind"], first["duration_s"]) == ("network_flow", 9.0)
    assert dict(first["raw"]) == {"packet_count": "3", "src_port": "N10471", "dst_port": "N46"}
    assert dict(table.to_pylist()[1]["raw"]) == {"packet_count": "1", "src_port": "N2600"}


def test_flows_and_proc_rejections() -> None:
    flows = b"1,0,C1,80,C2,443,6,1,x\n1,0,C1,70000,C2,443,6,1,5\n1,0,C1,80,C2\n"
    table, rej = parse_bytes(lanl_flows.PARSER, flows)
    assert table.num_rows == 0
    assert [r.reason for r in rej] == [
        "non-numeric byte count",
        "port out of range in source port",
        "expected 9 fields, got 5",
    ]
    table, rej = parse_bytes(lanl_proc.PARSER, b"1,U1@D,C1,P1,Paused\n")
    assert table.num_rows == 0 and rej[0].reason == "start/end is neither Start nor End"


def test_proc_golden() -> None:
    table, rej = parse_bytes(lanl_proc.PARSER, (DATA / "proc.txt").read_bytes())
    assert rej == []
    assert _rows(table, "ts", "kind", "user", "domain", "dst_host", "log_host", "process") == [
        (_ts(1), "process_start", "c1$", "DOM1", "c1", "c1", "P16"),
        (_ts(1), "other", "u12", "DOM1", "c2", "c2", "P4"),
        (_ts(2), "process_start", "system", "C3", "c3", "c3", "P5"),
    ]
    assert dict(table.to_pylist()[1]["raw"]) == {"start_end": "End"}


def test_redteam_labels() -> None:
    labels = read_redteam(DATA / "redteam.txt")
    assert labels[0] == {
        "ts": _ts(150885),
        "user": "u620",
        "domain": "DOM1",
        "src_host": "c17693",
        "dst_host": "c1003",
        "line": 1,
    }
    event = {
        "ts": _ts(150885),
        "user": "system",
        "src_host": "c17693",
        "dst_host": "c1003",
        "raw": [("source_user", "U620@DOM1")],
    }
    assert matches(labels[0], event)
    assert not matches(labels[1], event)


SAMPLES = {
    "lanl_auth": (DATA / "auth.txt").read_bytes(),
    "lanl_flows": (DATA / "flows.txt").read_bytes(),
    "lanl_proc": (DATA / "proc.txt").read_bytes(),
    "ecs_json": EXAMPLE_LINE + b"\n",
    "zeek_conn": (ZEEK_HEADER + zeek_line()).encode(),
    "redteam": (DATA / "redteam.txt").read_bytes(),
    "other_csv": b"name,age\nalice,3\n",
}


@pytest.mark.parametrize(
    "parser",
    [lanl_auth.PARSER, lanl_flows.PARSER, lanl_proc.PARSER, ecs_json.PARSER, zeek_conn.PARSER],
    ids=lambda p: p.name,
)
def test_sniff_only_own(parser: object) -> None:
    for name, head in SAMPLES.items():
        assert parser.sniff(head, "f") == (name == parser.name), name  # type: ignore[attr-defined]
    truncated = SAMPLES["lanl_auth"][:-20]  # the head may end mid-line
    assert lanl_auth.PARSER.sniff(truncated, "f")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.binary(max_size=60)
        | st.sampled_from(
            [GOOD_AUTH, b"1,0,C1,80,C2,443,6,1,5\n", b"1,U1@D,C1,P1,Start\n", b"\r", b"\n"]
        ),
        max_size=10,
    ),
    st.integers(0, 400),
)
def test_random_input_never_raises(chunks: list[bytes], cut: int) -> None:
    data = b"".join(chunks)
    data = data[: len(data) - cut] if cut < len(data) else data
    records = sum(1 for ln in data.split(b"\n") if ln.strip(b" \t\r\n\x0b\x0c"))
    for parser in (lanl_auth.PARSER, lanl_flows.PARSER, lanl_proc.PARSER):
        table, rej = parse_bytes(parser, data)
        assert table.num_rows + len(rej) == records
        assert all(r.reason for r in rej)


def test_lone_carriage_return_is_one_record() -> None:
    data = GOOD_AUTH + b"2,U1@D\r,U1@D,C1,C2,NTLM,Network,LogOn,Success\n" + GOOD_AUTH + b"\r"
    table, rej = parse_bytes(lanl_auth.PARSER, data)
    assert table.column("source_offset").to_pylist() == [1, 3]
    assert [(r.offset, r.reason) for r in rej] == [(2, "carriage return inside a line")]
