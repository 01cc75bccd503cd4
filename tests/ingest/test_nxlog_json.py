"""nxlog_json: golden rows, time zones, malformed lines, sniffing, robustness, real OTRF files."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, NOW, ZEEK_HEADER, zeek_line

from ashiato.ingest import ecs_json, evtx, zeek_conn
from ashiato.ingest.base import ParseContext
from ashiato.ingest.nxlog_json import PARSER
from conftest import SHA, parse_bytes

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "otrf-security-datasets"


def nx(code: int, **fields: Any) -> dict[str, Any]:
    """An NXLog im_msvistalog event as OTRF ships it (local EventTime, UTC @timestamp)."""
    base: dict[str, Any] = {
        "@version": "1",
        "host": "wec.internal.cloudapp.net",
        "port": 53997,
        "tags": ["mordorDataset"],
        "SourceModuleName": "eventlog",
        "SourceModuleType": "im_msvistalog",
        "SourceName": "Microsoft-Windows-Security-Auditing",
        "Channel": "Security",
        "Hostname": "WORKSTATION5.theshire.local",
        "EventID": code,
        "RecordNumber": 110748,
        "EventTime": "2020-08-05 02:09:27",
        "EventReceivedTime": "2020-08-05 02:09:29",
        "@timestamp": "2020-08-05T06:09:29.626Z",
        "Keywords": -9214364837600034816,
        "EventType": "AUDIT_SUCCESS",
        "Message": "An account was successfully logged on.",
    }
    base.update(fields)
    return base


def data(*events: dict[str, Any]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


LOGON = nx(
    4624,
    TargetUserName="pgustavo",
    TargetDomainName="THESHIRE",
    LogonType="3",
    AuthenticationPackageName="Kerberos",
    WorkstationName="-",
    IpAddress="172.18.39.5",
    IpPort="51234",
    ImpersonationLevel="%%1833",
)


def test_golden_logon_with_inferred_zone() -> None:
    table, rej = parse_bytes(PARSER, data(LOGON))
    assert rej == []
    r = table.to_pylist()[0]
    raw = dict(r.pop("raw"))
    assert {k: v for k, v in r.items() if v is not None} == {
        "event_id": f"{SHA[:16]}-1",
        # EventTime is EDT local time; @timestamp - EventReceivedTime gives the offset (4 h)
        "ts": datetime(2020, 8, 5, 6, 9, 27, tzinfo=UTC),
        "kind": "logon",
        "event_code": 4624,
        "outcome": "success",
        "user": "pgustavo",
        "domain": "THESHIRE",
        "logon_type": 3,
        "auth_package": "Kerberos",
        "src_ip": "172.18.39.5",
        "src_port": 51234,
        "dst_host": "workstation5",
        "log_host": "workstation5",
        "source": "nxlog_json",
        "source_file": SHA,
        "source_offset": 1,
        "record_id": "110748",
        "record_key": "win|workstation5|security|110748|1596607767|4624",
    }
    assert raw["Computer"] == "WORKSTATION5.theshire.local"
    assert raw["Provider"] == "Microsoft-Windows-Security-Auditing"
    assert raw["EventRecordID"] == "110748"
    assert raw["EventID"] == "4624"
    assert raw["TimeCreated"] == "2020-08-05 02:09:27"
    assert raw["ImpersonationLevel"] == "%%1833"
    assert raw["Keywords"] == "-9214364837600034816"
    for gone in ("Message", "host", "port", "tags", "@version", "Hostname", "SourceName"):
        assert gone not in raw


def test_time_zone_rules() -> None:
    explicit = nx(4624, EventTime="2020-08-05T02:09:27+02:00")
    no_recv = {k: v for k, v in LOGON.items() if k != "EventReceivedTime"}
    long_lag = nx(4624, EventReceivedTime="2020-08-05 02:02:00")  # 7+ min off any zone
    zulu = {k: v for k, v in LOGON.items() if k not in ("EventTime", "EventReceivedTime")}
    zulu["TimeCreated"] = "2023-07-19T09:02:19.922Z"
    table, rej = parse_bytes(PARSER, data(explicit, no_recv, long_lag, zulu))
    assert rej == []
    assert table.column("ts").to_pylist() == [
        datetime(2020, 8, 5, 0, 9, 27, tzinfo=UTC),  # explicit offset honoured
        datetime(2020, 8, 5, 2, 9, 27, tzinfo=UTC),  # nothing to go by: UTC
        datetime(2020, 8, 5, 2, 9, 27, tzinfo=UTC),  # lag too long to trust: UTC
        datetime(2023, 7, 19, 9, 2, 19, 922000, tzinfo=UTC),
    ]
    ctx = ParseContext(SHA, "x.json", NOW, tz="Asia/Tokyo")
    pbs = list(PARSER.parse(io.BytesIO(data(LOGON, no_recv)), ctx))
    assert pbs[0].batch.column("ts").to_pylist() == [
        datetime(2020, 8, 4, 17, 9, 27, tzinfo=UTC),  # ctx.tz wins over the inference
        datetime(2020, 8, 4, 17, 9, 27, tzinfo=UTC),
    ]


def test_other_channels() -> None:
    sysmon = nx(
        3,
        SourceName="Microsoft-Windows-Sysmon",
        Channel="Microsoft-Windows-Sysmon/Operational",
        User="THESHIRE\\pgustavo",
        Image="C:\\Windows\\System32\\svchost.exe",
        Protocol="tcp",
        SourceIp="172.18.39.5",
        SourcePort="50000",
        DestinationIp="172.18.38.5",
        DestinationPort="445",
        DestinationHostname="MORDORDC.theshire.local",
    )
    service = nx(
        7045,
        SourceName="Service Control Manager",
        Channel="System",
        ServiceName="PSEXESVC",
        ImagePath="%SystemRoot%\\PSEXESVC.exe",
        AccountName="LocalSystem",
    )
    rdp = nx(
        1149,
        SourceName="Microsoft-Windows-TerminalServices-RemoteConnectionManager",
        Channel="Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    )
    lower = nx(4625, Channel="security", TargetUserName="x", Status="0xc000006d", SubStatus="0x0")
    table, rej = parse_bytes(PARSER, data(sysmon, service, rdp, lower))
    assert rej == []
    rows = table.to_pylist()
    cols = ("kind", "user", "domain", "src_ip", "dst_ip", "dst_port", "dst_host", "service")
    assert [tuple(r[c] for c in cols) for r in rows] == [
        (
            "network_flow",
            "pgustavo",
            "THESHIRE",
            "172.18.39.5",
            "172.18.38.5",
            445,
            "mordordc",
            None,
        ),
        ("service_install", "localsystem", None, None, None, None, "workstation5", "PSEXESVC"),
        ("logon", None, None, None, None, None, "workstation5", None),  # NXLog drops UserData
        ("logon_failure", "x", None, None, None, None, "workstation5", None),
    ]
    assert rows[3]["status"] == "0xc000006d"


def test_malformed_lines_are_counted_rejections() -> None:
    no_id = {k: v for k, v in LOGON.items() if k != "EventID"}
    no_time = {k: v for k, v in LOGON.items() if k not in ("EventTime", "@timestamp")}
    lines = [
        data(LOGON),  # 1
        b"\n",  # 2: blank
        b"{not json\n",  # 3
        data(no_id),  # 4
        data(no_time),  # 5
        data(nx(4624, EventTime="1970-01-01 00:00:00")),  # 6
        data(nx(4624, EventTime="yesterday")),  # 7
        data(nx(4624, LogonType="x")),  # 8
        data(nx(70000)),  # 9
        b"[1]\n",  # 10
        b'{"EventID": 1, "x": "\xff"}\n',  # 11
        data(LOGON),  # 12
    ]
    table, rej = parse_bytes(PARSER, b"".join(lines))
    assert table.column("source_offset").to_pylist() == [1, 12]
    assert {r.offset: r.reason for r in rej} == {
        3: "invalid JSON",
        4: "missing field EventID",
        5: "missing field EventTime (and TimeCreated, @timestamp)",
        6: "implausible timestamp in EventTime: before 1990",
        7: "invalid timestamp in EventTime",
        8: "non-numeric LogonType",
        9: "EventID out of range",
        10: "not a JSON object",
        11: "invalid UTF-8 at byte 21",
    }


def test_sniff() -> None:
    line = data(LOGON)
    assert PARSER.sniff(line, "x.json")
    assert PARSER.sniff(b"\n" + line[:-30], "x.json")  # first line cut by the head size
    assert not PARSER.sniff(EXAMPLE_LINE + b"\n", "x.json")
    assert not PARSER.sniff(EXAMPLE_LINE[:300], "x.json")
    assert not PARSER.sniff((ZEEK_HEADER + zeek_line()).encode(), "conn.log")
    assert not PARSER.sniff(b"ElfFile\x00", "x.evtx")
    assert not PARSER.sniff(b"", "x")
    for other in (ecs_json.PARSER, zeek_conn.PARSER, evtx.PARSER):
        assert not other.sniff(line, "x.json"), other.name
        assert not other.sniff(line[:200], "x.json"), other.name


json_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=8)
    | st.lists(st.integers(0, 9), max_size=2)
)
FIELDS = ["EventID", "EventTime", "EventReceivedTime", "@timestamp", "Channel", "SourceName",
          "Hostname", "RecordNumber", "LogonType", "IpPort", "TargetUserName"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    obj = dict(LOGON)
    for _ in range(draw(st.integers(0, 4))):
        obj[draw(st.sampled_from(FIELDS))] = draw(json_values)
    text = orjson.dumps(obj)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.binary(max_size=5)) + text[cut:]
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated() | st.binary(max_size=60), min_size=1, max_size=8))
def test_random_lines_never_raise_and_counts_add_up(lines: list[bytes]) -> None:
    blob = b"\n".join(lines)
    table, rej = parse_bytes(PARSER, blob)
    records = sum(1 for ln in blob.split(b"\n") if ln and not ln.isspace())
    assert table.num_rows + len(rej) == records
    assert all(r.reason for r in rej)


def _real() -> list[Path]:
    if not REAL.is_dir():
        return []
    return sorted(REAL.glob("atomic/windows/*/host/*.zip"))[::6]


@pytest.mark.skipif(not _real(), reason="shared OTRF data not present")
@pytest.mark.parametrize("path", _real(), ids=lambda p: p.name)
def test_real_otrf_files(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json"))
        with zf.open(name) as fh:
            assert PARSER.sniff(fh.read(64 * 1024), name)
        with zf.open(name) as fh:
            lines = sum(1 for ln in fh if ln.strip())
        ctx = ParseContext(SHA, f"{path.name}!{name}", NOW)
        with zf.open(name) as fh:
            pbs = list(PARSER.parse(fh, ctx))
    stored = sum(pb.batch.num_rows for pb in pbs)
    rejected = [r for pb in pbs for r in pb.rejections]
    assert stored + len(rejected) == lines
    assert all(r.reason for r in rejected)
    assert stored > 0


@pytest.mark.skipif(not REAL.is_dir(), reason="shared OTRF data not present")
def test_known_real_content() -> None:
    path = (
        REAL / "atomic/windows/lateral_movement/host/covenant_sharpsc_create_dcerpc_smb_svcctl.zip"
    )
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".json"))
        ctx = ParseContext(SHA, name, NOW)
        with zf.open(name) as fh:
            rows = [r for pb in PARSER.parse(fh, ctx) for r in pb.batch.to_pylist()]
    kinds = {r["kind"] for r in rows}
    assert {"logon", "share_object", "process_start"} <= kinds
    network_logons = [r for r in rows if r["kind"] == "logon" and r["logon_type"] == 3]
    assert network_logons and all(r["dst_host"] for r in network_logons)
    assert min(r["ts"] for r in rows).year == 2020
