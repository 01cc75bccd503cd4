"""evtx: golden rows from a real chunk, damaged files as rejections, sniffing, real files."""

from __future__ import annotations

import gzip
import io
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_samples import EXAMPLE_LINE, NOW, ZEEK_HEADER, zeek_line

from ashiato.ingest import ecs_json, ingest, zeek_conn
from ashiato.ingest.base import ParseContext
from ashiato.ingest.evtx import PARSER
from conftest import SHA, parse_bytes

DATA = Path(__file__).parent / "data" / "evtx"
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
SAMPLE = gzip.decompress((DATA / "security-one-chunk.evtx.gz").read_bytes())


def test_golden_rows_from_one_chunk() -> None:
    table, rej = parse_bytes(PARSER, SAMPLE)
    assert rej == []
    assert table.num_rows == 86
    rows = {r["source_offset"]: r for r in table.to_pylist()}
    cols = ("kind", "event_code", "user", "domain", "logon_type", "auth_package", "src_host")
    cols2 = ("src_ip", "dst_host", "dst_ip", "process", "log_host", "record_id")
    got = {o: tuple(rows[o][c] for c in cols + cols2) for o in (92, 125, 127, 128, 172)}
    h = "win-03dliiofrra"
    winlogon = "C:\\Windows\\System32\\winlogon.exe"
    services = "C:\\Windows\\System32\\services.exe"
    assert got == {
        92: ("account_change", 4781, "replicator", "BUILTIN", None, None, None,
             None, h, None, None, h, "92"),
        125: ("logon", 4624, "system", "NT AUTHORITY", 5, "Negotiate", None,
              None, h, None, services, h, "125"),
        127: ("explicit_credentials", 4648, "fsir", "WIN-03DLIIOFRRA", None, None, h,
              None, h, "127.0.0.1", winlogon, h, "127"),
        128: ("logon", 4624, "fsir", "WIN-03DLIIOFRRA", 2, "Negotiate", h,
              "127.0.0.1", h, None, winlogon, h, "128"),
        172: ("logon", 4624, "anonymous logon", "NT AUTHORITY", 3, "NTLM", None,
              None, h, None, None, h, "172"),
    }  # fmt: skip
    assert rows[128]["ts"] == datetime(2016, 7, 8, 18, 15, 51, 672433, tzinfo=UTC)
    assert rows[128]["event_id"] == f"{SHA[:16]}-128"
    raw = dict(rows[128]["raw"])
    assert raw["LogonType"] == "2"  # ints from the library become text
    assert raw["EventID"] == "4624"
    assert raw["Channel"] == "Security"
    assert raw["Provider"] == "Microsoft-Windows-Security-Auditing"
    assert raw["Computer"] == "WIN-03DLIIOFRRA"
    assert raw["EventRecordID"] == "128"
    assert raw["TimeCreated"] == "2016-07-08T18:15:51.672433Z"
    assert Counter(table.column("kind").to_pylist())["privilege_grant"] == 16
    assert dict(rows[121]["raw"])["AccountExpires"] == "%%1794"  # message codes kept as they are


def test_path_and_stream_agree(tmp_path: Path) -> None:
    f = tmp_path / "no-extension"
    f.write_bytes(SAMPLE)
    ctx = ParseContext(SHA, str(f), NOW)
    with f.open("rb") as fh:
        from_path = [pb.batch for pb in PARSER.parse(fh, ctx)]
    table, _ = parse_bytes(PARSER, SAMPLE)
    assert sum(b.num_rows for b in from_path) == table.num_rows
    assert from_path[0].column("event_id").to_pylist() == table.column("event_id").to_pylist()


def test_truncated_file_counts_each_lost_record() -> None:
    cut = SAMPLE[: 4096 + 30_000]  # the library reads nothing of a cut chunk, and says nothing
    whole, _ = parse_bytes(PARSER, SAMPLE)
    table, rej = parse_bytes(PARSER, cut)
    assert table.num_rows == 0
    ids = [int(r) for r in whole.column("record_id").to_pylist()]
    assert [r.offset for r in rej] == ids  # the chunk header gives every record lost
    assert rej[0].reason == (
        f"record {ids[0]} lost: unreadable EVTX chunk 0 at byte 0x1000: "
        "file truncated: the file ends at byte 34096, inside the chunk"
    )
    header_only, rej = parse_bytes(PARSER, SAMPLE[:4096])  # nothing says where records began
    assert header_only.num_rows == 0
    assert [r.reason.split(":")[0] for r in rej] == ["file truncated"]


def test_corrupt_chunk_and_bad_header() -> None:
    bad = bytearray(SAMPLE)
    bad[4096 : 4096 + 8] = b"XXXXXXXX"  # chunk magic
    table, rej = parse_bytes(PARSER, bytes(bad))
    assert table.num_rows == 0
    # the sample's only chunk (records 92-177) was cut out of a longer log whose header says the
    # next record is 2226: nothing trustworthy says where the chunk's records began
    assert len(rej) == 1
    assert rej[0].reason.startswith("unreadable EVTX chunk 0 at byte 0x1000: Failed to parse")
    assert "ElfChnk" in rej[0].reason and "how many records it held is unknown" in rej[0].reason
    for data in (b"ElfFile\x00" + b"\x00" * 50, b"ElfFile\x00", b"XXXXXXXX" + SAMPLE[8:]):
        table, rej = parse_bytes(PARSER, data)
        assert table.num_rows == 0
        assert len(rej) == 1 and rej[0].reason.startswith("unreadable EVTX file header")


SPRAY = REAL / "deepbluecli" / "smb-password-guessing-security.evtx"  # 34 chunks, 3,561 records
CHUNK5 = 4096 + 5 * 65536  # holds records 536-642


@pytest.mark.skipif(not SPRAY.is_file(), reason="shared real data not present")
@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ((CHUNK5 + 600, random.Random(11).randbytes(29_400)), "Failed to parse chunk containing"),
        ((CHUNK5, b"XXXXXXXX"), "Failed to parse chunk number 5"),
        ((CHUNK5, bytes(65536)), "damaged chunk header"),  # the library skips it without a word
        ((CHUNK5 + 512, bytes(65024)), "record area unreadable"),
    ],
)
def test_a_damaged_chunk_counts_every_record_it_held(
    tmp_path: Path, damage: tuple[int, bytes], why: str
) -> None:
    at, junk = damage
    data = bytearray(SPRAY.read_bytes())
    data[at : at + len(junk)] = junk
    f = tmp_path / "damaged.evtx"
    f.write_bytes(bytes(data))
    table, rej = parse_bytes(PARSER, bytes(data))
    assert table.num_rows == 3561 - 107
    assert [r.offset for r in rej] == list(range(536, 643))  # one rejection per record lost
    head = "lost: unreadable EVTX chunk 5 at byte 0x51000: "
    assert all(r.reason.startswith(f"record {r.offset} {head}{why}") for r in rej)
    report = ingest([f], tmp_path / "store", workers=1)
    assert (report.records_read, report.records_stored, report.records_rejected) == (
        3561,
        3454,
        107,
    )


def test_broken_gzip_stream_is_a_rejection() -> None:
    gz = gzip.compress(SAMPLE)
    ctx = ParseContext(SHA, "x.evtx.gz", NOW)
    stream = gzip.GzipFile(fileobj=io.BytesIO(gz[: len(gz) // 2]))
    batches = list(PARSER.parse(stream, ctx))  # type: ignore[arg-type]
    reasons = [r.reason for pb in batches for r in pb.rejections]
    assert any(r.startswith("input stream broken after") for r in reasons)


def test_sniff() -> None:
    assert PARSER.sniff(SAMPLE[:65536], "whatever.bin")
    assert not PARSER.sniff(EXAMPLE_LINE, "x.json")
    assert not PARSER.sniff(ZEEK_HEADER.encode(), "conn.log")
    assert not PARSER.sniff(b"", "x.evtx")
    assert not ecs_json.PARSER.sniff(SAMPLE[:65536], "x.evtx")
    assert not zeek_conn.PARSER.sniff(SAMPLE[:65536], "x.evtx")
    assert not PARSER.sniff((ZEEK_HEADER + zeek_line()).encode(), "x")


def test_a_chunk_with_a_damaged_magic_behind_a_damaged_header_is_lost_not_absent() -> None:
    """Found by the property test below: with the file header's CRC and the chunk's magic both
    broken, the chunk was taken for preallocated space and its records vanished unreported."""
    data = bytearray(SAMPLE[: 4096 + 65536])
    data[100] ^= 0xFF  # the header's CRC no longer matches
    data[4096] = ord("D")  # ElfChnk -> DlfChnk
    table, rej = parse_bytes(PARSER, bytes(data))
    assert table.num_rows == 0 and rej
    assert all("lost" in r.reason or "unknown" in r.reason for r in rej), rej


def test_a_damaged_header_with_no_chunk_behind_it_is_a_rejection() -> None:
    """Found by the property test below: a header alone whose CRC fails said nothing at all."""
    data = bytearray(SAMPLE[:4096])
    data[17] ^= 0x08  # the header's CRC no longer matches
    table, rej = parse_bytes(PARSER, bytes(data))
    assert table.num_rows == 0
    assert [r.reason for r in rej] == [
        "EVTX file header damaged (checksum mismatch) and no chunk follows it (the file ends at "
        "byte 4096): how many records it held is unknown"
    ]


def test_a_record_identifier_past_int64_is_not_the_offset() -> None:
    """Found by the property test below: a flipped top bit in a record's identifier made the
    offset overflow Arrow's int64, and the whole file failed."""
    data = bytearray(SAMPLE)
    data[4096 + 512 + 15] ^= 0x80  # the first record's identifier (92) + 2**63
    table, rej = parse_bytes(PARSER, bytes(data))
    offsets = table.column("source_offset").to_pylist()
    assert table.num_rows == 86 and len(set(offsets)) == len(offsets)
    assert min(offsets) == 1  # the offset follows the previous record's (none here)
    # the chunk header expected a record 92, and none came with that identifier
    assert [r.offset for r in rej] == [92] and "lost" in rej[0].reason


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(SAMPLE)
    for _ in range(draw(st.integers(0, 40))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        data += draw(st.binary(max_size=300))
    return bytes(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged() | st.binary(max_size=5000).map(lambda b: b"ElfFile\x00" + b))
def test_damaged_files_never_raise(data: bytes) -> None:
    table, rej = parse_bytes(PARSER, data)
    assert all(r.reason for r in rej)
    offsets = table.column("source_offset").to_pylist()
    assert len(set(offsets)) == len(offsets)
    assert table.num_rows + len(rej) >= 1 or not data.startswith(b"ElfFile\x00")


def _real_files() -> list[Path]:
    return sorted(REAL.glob("**/*.evtx")) if REAL.is_dir() else []


@pytest.mark.skipif(not _real_files(), reason="shared real data not present")
def test_every_real_evtx_file() -> None:
    stored = rejected = 0
    kinds: Counter[str] = Counter()
    for path in _real_files():
        ctx = ParseContext(SHA, str(path), NOW)
        with path.open("rb") as fh:
            for pb in PARSER.parse(fh, ctx):
                stored += pb.batch.num_rows
                rejected += len(pb.rejections)
                assert all(r.reason for r in pb.rejections)
                kinds.update(pb.batch.column("kind").to_pylist())
    assert stored > 20_000
    assert rejected == 0  # the library reads every record of these files
    for kind in ("logon", "logon_failure", "explicit_credentials", "share_access", "process_start"):
        assert kinds[kind] > 0, kind


def _one(rel: str) -> list[dict[str, object]]:
    path = REAL / rel
    ctx = ParseContext(SHA, str(path), NOW)
    with path.open("rb") as fh:
        return [r for pb in PARSER.parse(fh, ctx) for r in pb.batch.to_pylist()]


@pytest.mark.skipif(not (REAL / "deepbluecli").is_dir(), reason="shared real data not present")
def test_known_real_content() -> None:
    spray = [r for r in _one("deepbluecli/password-spray.evtx") if r["event_code"] == 4648]
    assert len(spray) >= 290
    assert {r["kind"] for r in spray} == {"explicit_credentials"}
    assert len({r["user"] for r in spray}) > 20  # one source, many target accounts
    # ... all supplied from one logon session, whose account is kept apart from the targets
    subjects = {r["subject_user"] for r in spray}
    assert len(subjects) == 1 and None not in subjects and not subjects & {r["user"] for r in spray}
    guess = _one("deepbluecli/smb-password-guessing-security.evtx")
    failures = [r for r in guess if r["kind"] == "logon_failure"]
    assert len(failures) > 3000
    assert {r["logon_type"] for r in failures} == {3}
    assert all(r["outcome"] == "failure" and r["status"] for r in failures)
    services = _one("deepbluecli/metasploit-psexec-native-target-system.evtx")
    assert [r["kind"] for r in services if r["event_code"] == 7045] == ["service_install"] * 2
