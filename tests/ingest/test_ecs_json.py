"""ecs_json: golden rows, counts on malformed input, gzip, sniffing, robustness, real files."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, bulk_ecs, ecs_event, line

from ashiato.ingest.ecs_json import PARSER
from ashiato.ingest.registry import detect
from conftest import SHA, parse_bytes

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "otrf-security-datasets"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_golden_example_line() -> None:
    table, rej = parse_bytes(PARSER, EXAMPLE_LINE + b"\n")
    assert rej == []
    row = table.to_pylist()[0]
    raw = dict(row.pop("raw"))
    assert row == {
        "event_id": f"{SHA[:16]}-1",
        "ts": ts("2026-09-08T14:03:11.482+00:00"),
        "kind": "logon",
        "event_code": 4624,
        "outcome": "success",
        "status": None,
        "user": "adm-tanaka",
        "domain": "CORP",
        "logon_type": 3,
        "auth_package": "Kerberos",
        "src_host": None,
        "src_ip": "10.20.3.17",
        "src_port": 50122,
        "dst_host": "jp-osa-fs01",
        "dst_ip": None,
        "dst_port": None,
        "protocol": None,
        "service": None,
        "bytes_out": None,
        "bytes_in": None,
        "duration_s": None,
        "share": None,
        "path": None,
        "process": None,
        "subject_user": None,  # a 4624's subject is the service that logged it, not kept
        "log_host": "jp-osa-fs01",
        "source": "ecs_json",
        "source_file": SHA,
        "source_offset": 1,
        "record_id": "182733",
        "record_key": "win|jp-osa-fs01|security|182733|1788876191|4624",
    }
    assert raw["TargetUserName"] == "adm-tanaka"
    assert raw["LogonType"] == "3"
    assert raw["EventID"] == "4624"
    assert raw["Channel"] == "Security"
    assert raw["Computer"] == "jp-osa-fs01.corp.example.co.jp"


def test_golden_mapping_per_code() -> None:
    events = [
        ecs_event(
            4625,
            TargetUserName="CORP\\Bob",
            TargetDomainName="corp.example",
            Status="0xC000006D",
            SubStatus="0xC000006A",
            IpAddress="::ffff:10.0.0.9",
            IpPort="-",
            WorkstationName="WS07",
            LogonType=10,
        ),
        ecs_event(
            4648,
            ts="2026-09-08T16:00:00+02:00",
            TargetUserName="adm-sato",
            TargetDomainName="CORP",
            TargetServerName="localhost",
            IpAddress="-",
            ProcessName="C:\\Windows\\System32\\svchost.exe",
        ),
        ecs_event(
            4648,
            TargetUserName="adm-sato",
            TargetDomainName="CORP",
            TargetServerName="JP-TKY-DC01.corp.example.co.jp",
            IpAddress="10.1.1.1",
            SubjectUserName="CORP\\K.Sato",
        ),
        ecs_event(
            4769,
            record_id=7,
            TargetUserName="adm-sato@CORP.EXAMPLE.CO.JP",
            TargetDomainName="CORP.EXAMPLE.CO.JP",
            ServiceName="JP-OSA-FS01$",
            IpAddress="::ffff:10.20.3.17",
            Status="0x0",
        ),
        ecs_event(
            4768,
            TargetUserName="ghost",
            TargetDomainName="CORP",
            ServiceName="krbtgt",
            IpAddress="10.9.9.9",
            Status="0x6",
        ),
        ecs_event(
            5145,
            SubjectUserName="adm-sato",
            SubjectDomainName="CORP",
            IpAddress="10.20.3.17",
            IpPort="50200",
            ShareName="\\\\*\\ADMIN$",
            RelativeTargetName="PSEXESVC.exe",
        ),
        ecs_event(
            4688,
            SubjectUserName="adm-sato",
            SubjectDomainName="CORP",
            NewProcessName="C:\\Windows\\PSEXESVC.exe",
        ),
        ecs_event(4672, SubjectUserName="ADM-SATO", SubjectDomainName="CORP"),
        ecs_event(1102, SubjectUserName="adm-sato", SubjectDomainName="CORP"),
    ]
    data = b"\n".join(line(e) for e in events) + b"\n"
    table, rej = parse_bytes(PARSER, data)
    assert rej == []
    rows = table.to_pylist()
    cols = (
        "kind",
        "user",
        "domain",
        "src_host",
        "src_ip",
        "src_port",
        "dst_host",
        "dst_ip",
        "status",
        "outcome",
        "service",
        "share",
        "path",
        "process",
    )
    got = [tuple(r[c] for c in cols) for r in rows]
    # who supplied the credentials: the 4648's subject only (the 5145's, 4688's are ``user``)
    assert [(r["event_code"], r["subject_user"]) for r in rows if r["subject_user"]] == [
        (4648, "k.sato")
    ]
    fs = "jp-osa-fs01"
    assert got == [
        (
            "logon_failure",
            "bob",
            "CORP",
            "ws07",
            "10.0.0.9",
            None,
            fs,
            None,
            "0xC000006A",
            "failure",
            None,
            None,
            None,
            None,
        ),
        (
            "explicit_credentials",
            "adm-sato",
            "CORP",
            fs,
            None,
            None,
            fs,
            None,
            None,
            "success",
            None,
            None,
            None,
            "C:\\Windows\\System32\\svchost.exe",
        ),
        (
            "explicit_credentials",
            "adm-sato",
            "CORP",
            fs,
            None,
            None,
            "jp-tky-dc01",
            "10.1.1.1",
            None,
            "success",
            None,
            None,
            None,
            None,
        ),
        (
            "kerberos_service",
            "adm-sato",
            "CORP",
            None,
            "10.20.3.17",
            None,
            "jp-osa-fs01",
            None,
            "0x0",
            "success",
            "JP-OSA-FS01$",
            None,
            None,
            None,
        ),
        (
            "kerberos_tgt",
            "ghost",
            "CORP",
            None,
            "10.9.9.9",
            None,
            fs,
            None,
            "0x6",
            "failure",
            "krbtgt",
            None,
            None,
            None,
        ),
        (
            "share_object",
            "adm-sato",
            "CORP",
            None,
            "10.20.3.17",
            50200,
            fs,
            None,
            None,
            "success",
            None,
            "\\\\*\\ADMIN$",
            "PSEXESVC.exe",
            None,
        ),
        (
            "process_start",
            "adm-sato",
            "CORP",
            None,
            None,
            None,
            fs,
            None,
            None,
            "success",
            None,
            None,
            None,
            "C:\\Windows\\PSEXESVC.exe",
        ),
        (
            "privilege_grant",
            "adm-sato",
            "CORP",
            None,
            None,
            None,
            fs,
            None,
            None,
            "success",
            None,
            None,
            None,
            None,
        ),
        (
            "log_cleared",
            "adm-sato",
            "CORP",
            None,
            None,
            None,
            fs,
            None,
            None,
            "success",
            None,
            None,
            None,
            None,
        ),
    ]
    assert rows[0]["logon_type"] == 10
    assert rows[1]["ts"] == ts("2026-09-08T14:00:00+00:00")  # offset converted to UTC
    assert rows[3]["record_id"] == "7"  # int record ids become text


def test_malformed_lines_are_counted_rejections() -> None:
    good = line(ecs_event(4624, TargetUserName="a"))
    no_ts = orjson.loads(good)
    del no_ts["@timestamp"]
    no_code = ecs_event(4624)
    del no_code["winlog"]["event_id"]
    del no_code["event"]["code"]
    lines = [
        good,  # 1
        b"",  # 2: blank lines are not records
        b"{not json",  # 3
        line(no_ts),  # 4
        b'{"@timestamp": "2026-09-08T00:00:00Z", "x": "\xff\xfe"}',  # 5 bad UTF-8
        line(ecs_event(4624, ts="1970-01-01T00:00:00Z")),  # 6 before 1990
        line(ecs_event(4624, ts="2027-01-01T00:00:00Z")),  # 7 far future
        line(ecs_event(4624, IpPort="http")),  # 8 non-numeric port
        line(no_code),  # 9
        b"   ",  # 10 blank
        b"[1, 2]",  # 11
        line(ecs_event(4624, ts="yesterday")),  # 12
        good,  # 13
    ]
    table, rej = parse_bytes(PARSER, b"\n".join(lines))
    assert table.num_rows == 2
    assert table.column("source_offset").to_pylist() == [1, 13]
    reasons = {r.offset: r.reason for r in rej}
    assert reasons == {
        3: "invalid JSON",
        4: "missing field @timestamp",
        5: "invalid UTF-8 at byte 45",
        6: "implausible timestamp in @timestamp: before 1990",
        7: "implausible timestamp in @timestamp: more than 2 days in the future",
        8: "non-numeric port in IpPort",
        9: "missing field winlog.event_id (and event.code)",
        11: "not a JSON object",
        12: "invalid timestamp in @timestamp",
    }
    assert rej[0].excerpt == "{not json"


def test_gzip_and_truncated_gzip() -> None:
    data = bulk_ecs(3000)
    gz = gzip.compress(data)
    stream = gzip.GzipFile(fileobj=io.BytesIO(gz))
    table, rej = parse_bytes(PARSER, stream.read())
    assert (table.num_rows, rej) == (3000, [])

    from ingest_samples import NOW

    from ashiato.ingest.base import ParseContext

    ctx = ParseContext(SHA, "x.gz", NOW)
    cut = gzip.GzipFile(fileobj=io.BytesIO(gz[: len(gz) // 2]))
    stored = rejected = 0
    reasons = []
    for pb in PARSER.parse(cut, ctx):  # type: ignore[arg-type]
        stored += pb.batch.num_rows
        rejected += len(pb.rejections)
        reasons += [r.reason for r in pb.rejections]
    assert 0 < stored < 3000
    assert rejected >= 1
    assert reasons[-1] == f"truncated gzip stream after line {stored + rejected - 1}"


def test_sniff() -> None:
    assert PARSER.sniff(EXAMPLE_LINE + b"\n", "x.json")
    assert PARSER.sniff(b"\n\n" + EXAMPLE_LINE[:300], "x.json")  # head cut mid-line
    assert PARSER.sniff(b'{"event": {"code": "4624"}, "host": {"name": "a"}}\n', "x")
    assert not PARSER.sniff(b'{"ts": 1, "uid": "C1", "id.orig_h": "1.2.3.4"}\n', "x")
    assert not PARSER.sniff(b"#separator \\x09\n", "conn.log")
    assert not PARSER.sniff(b"", "empty")
    p = detect(EXAMPLE_LINE, "x.json")
    assert p is not None and p.name == "ecs_json"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "@timestamp",
    "winlog",
    "event",
    "host",
    "event_id",
    "event_data",
    "TargetUserName",
    "IpPort",
    "LogonType",
    "record_id",
    "code",
    "computer_name",
    "Status",
    "SubStatus",
]


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    base = orjson.loads(EXAMPLE_LINE)
    targets = [base, base["winlog"], base["winlog"]["event_data"], base["event"]]
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(targets))
        target[draw(st.sampled_from(FIELDS))] = draw(json_values)
    text = orjson.dumps(base, option=orjson.OPT_NON_STR_KEYS)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.binary(max_size=5)) + text[cut:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_lines() | st.binary(max_size=60), min_size=1, max_size=8))
def test_random_lines_never_raise_and_counts_add_up(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    table, rej = parse_bytes(PARSER, data)
    records = sum(1 for ln in data.split(b"\n") if ln and not ln.isspace())
    assert table.num_rows + len(rej) == records
    offsets = table.column("source_offset").to_pylist() + [r.offset for r in rej]
    assert len(set(offsets)) == len(offsets)


def _real_files() -> list[Path]:
    if not REAL.is_dir():
        return []
    return sorted(REAL.glob("atomic/windows/lateral_movement/host/*.zip"))[:4]


@pytest.mark.skipif(not _real_files(), reason="shared OTRF data not present")
@pytest.mark.parametrize("path", _real_files(), ids=lambda p: p.name)
def test_real_otrf_files_do_not_crash(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json"))
        with zf.open(name) as fh:
            head = fh.read(64 * 1024)
        with zf.open(name) as fh:
            data = fh.read(2_000_000)  # enough lines, fast
    PARSER.sniff(head, name)  # NXLog shape: usually not recognised, must not raise
    data = data[: data.rfind(b"\n") + 1]
    table, rej = parse_bytes(PARSER, data)
    records = sum(1 for ln in data.split(b"\n") if ln.strip())
    assert table.num_rows + len(rej) == records


def test_user_data_events_keep_their_fields() -> None:
    """Winlogbeat writes UserData events (1102 log cleared) under winlog.user_data: who cleared
    the log must not be lost."""
    ev = ecs_event(1102)
    ev["winlog"].pop("event_data")
    ev["winlog"]["user_data"] = {"SubjectUserName": "adm-sato", "SubjectDomainName": "CORP"}
    table, rej = parse_bytes(PARSER, line(ev) + b"\n")
    assert rej == []
    row = table.to_pylist()[0]
    assert row["kind"] == "log_cleared" and row["user"] == "adm-sato"
    assert dict(row["raw"])["SubjectUserName"] == "adm-sato"
