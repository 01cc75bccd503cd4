"""mapped: CSV and JSON lines read through a YAML mapping; mapping validation; never sniffs."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_samples import NOW

from ashiato.errors import IngestError
from ashiato.ingest.base import ParseContext, Rejection
from ashiato.ingest.mapped import PARSER
from conftest import SHA

DATA = Path(__file__).parent / "data" / "mapped"


def run(mapping: Path | str, data: bytes) -> tuple[pa.Table, list[Rejection]]:
    ctx = ParseContext(SHA, "/in/x", NOW, options={"mapping": str(mapping)})
    pbs = list(PARSER.parse(io.BytesIO(data), ctx))
    rej = [r for p in pbs for r in p.rejections]
    return pa.Table.from_batches([p.batch for p in pbs]) if pbs else pa.table({}), rej


def test_csv_golden() -> None:
    table, rej = run(DATA / "vpn.yaml", (DATA / "vpn.csv").read_bytes())
    assert rej == []
    a, b = table.to_pylist()
    assert a["ts"] == datetime(2026, 9, 8, 0, 0, tzinfo=UTC)  # 09:00 Asia/Tokyo
    assert (a["kind"], a["outcome"], a["user"], a["src_ip"], a["dst_host"], a["bytes_out"]) == (
        "logon",
        "success",
        "alice",
        "198.51.100.7",
        "vpn-gw1",
        1200,
    )
    assert dict(a["raw"]) == {"country": "JP"} and a["source_offset"] == 2
    assert (b["outcome"], b["bytes_out"], b["user"]) == ("failure", None, "bob")


def test_jsonl_golden() -> None:
    table, rej = run(DATA / "proxy.yaml", (DATA / "proxy.jsonl").read_bytes())
    assert rej == []
    a, b = table.to_pylist()
    assert a["ts"] == datetime(2026, 9, 8, 14, 3, 11, 500000, tzinfo=UTC)
    assert (a["kind"], a["outcome"], a["src_ip"], a["src_port"], a["dst_ip"]) == (
        "network_flow",
        "success",
        "10.1.2.3",
        50000,
        "93.184.216.34",
    )
    assert dict(a["raw"])["ua"] == "curl" and b["outcome"] == "failure"


def test_bad_rows(tmp_path: Path) -> None:
    data = (DATA / "vpn.csv").read_bytes() + (
        b"2026-09-08 09:00:00,carol,198.51.100.9,gw,12\n"  # 4
        b"yesterday,carol,198.51.100.9,gw,12,ok,JP\n"  # 5
        b"2026-09-08 09:00:00,carol,198.51.100.9,gw,lots,ok,JP\n"  # 6
        b'2026-09-08 09:00:00,"carol,198.51.100.9,gw,1,ok,JP\n'  # 7
    )
    table, rej = run(DATA / "vpn.yaml", data)
    assert table.num_rows == 2
    assert [(r.offset, r.reason) for r in rej][:3] == [
        (4, "expected 7 fields, got 5"),
        (5, "invalid timestamp in time"),
        (6, "non-numeric sent_bytes"),
    ]
    assert rej[3].offset == 7
    jl = b'{"ts": 1788876191500, "src": {"ip": "1.2.3.4"}, "action": "allow"}\n'
    table, rej = run(DATA / "proxy.yaml", jl + b"[1]\n")
    assert [r.reason for r in rej] == ["missing field src.port", "not a JSON object"]


def test_mapping_errors(tmp_path: Path) -> None:
    def bad(text: str, match: str) -> None:
        p = tmp_path / "m.yaml"
        p.write_text(text)
        with pytest.raises(IngestError, match=match):
            run(p, b"a\n")

    base = "format: csv\ntimestamp: {field: t}\n"
    bad(base + "fields: {source_ip: ip}\n", r"m\.yaml: fields\.source_ip: not an ACCESS_EVENT")
    bad(base + "fields: {ts: t}\n", r"fields\.ts")
    bad("format: xml\ntimestamp: {field: t}\n", r"m\.yaml: format")
    bad(base + "colour: red\n", r"m\.yaml: colour")
    bad(base + "kind: teleport\n", r"m\.yaml: kind")
    bad(base + "header: false\n", r"columns")
    bad("format: csv\ntimestamp: {field: t, tz: Mars/Base}\n", "Mars")
    with pytest.raises(IngestError, match="mapping=FILE"):
        list(PARSER.parse(io.BytesIO(b""), ParseContext(SHA, "/x", NOW)))


def test_never_sniffs() -> None:
    assert not PARSER.sniff((DATA / "vpn.csv").read_bytes(), "vpn.csv")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.binary(max_size=60) | st.sampled_from((DATA / "proxy.jsonl").read_bytes().split(b"\n")),
        max_size=8,
    )
)
def test_random_lines_never_raise(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    records = sum(1 for ln in data.split(b"\n") if ln and not ln.isspace())
    table, rej = run(DATA / "proxy.yaml", data)
    assert table.num_rows + len(rej) == records
