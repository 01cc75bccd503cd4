"""Record identity: a record that arrives again (overlapping export, EVTX copy, another format of
the same event, overlapping Zeek logs) is stored once and counted as a duplicate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from evtx import PyEvtxParser
from tests.ingest.ingest_samples import ZEEK_HEADER, bulk_ecs, bulk_zeek, zeek_line

from ashiato.ingest import IngestReport, ingest
from ashiato.store.manifest import read_manifest
from ashiato.store.verify import verify

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
EVTX = REAL / "deepbluecli" / "smb-password-guessing-security.evtx"
needs_evtx = pytest.mark.skipif(not EVTX.is_file(), reason="shared real data not present")


def _rows(store: Path, where: str = "true") -> list[tuple[Any, ...]]:
    glob = str(store / "events" / "*" / "*.parquet")
    return duckdb.sql(
        f"SELECT count(*), count(DISTINCT event_id), count(DISTINCT record_key) "
        f"FROM read_parquet('{glob}', union_by_name = true) WHERE {where}"
    ).fetchall()


def _one(report: IngestReport) -> tuple[int, int, int, int]:
    (f,) = report.files
    assert f.status == "ingested", f.status
    return f.records_read, f.records_stored, f.records_rejected, f.records_duplicate


def test_the_same_export_plus_one_line_stores_each_record_once(tmp_path: Path) -> None:
    lines = bulk_ecs(3001).splitlines(keepends=True)
    (tmp_path / "monday").mkdir()
    (tmp_path / "tuesday").mkdir()
    (tmp_path / "monday" / "security.json").write_bytes(b"".join(lines[:3000]))
    (tmp_path / "tuesday" / "security.json").write_bytes(b"".join(lines))
    store = tmp_path / "store"
    assert _one(ingest([tmp_path / "monday"], store, workers=1)) == (3000, 3000, 0, 0)
    assert _one(ingest([tmp_path / "tuesday"], store, workers=1)) == (3001, 1, 0, 3000)
    assert _rows(store) == [(3001, 3001, 3001)]  # 3,001 rows for 3,001 records
    manifest = read_manifest(store_layout(store)).to_pylist()
    assert sorted(r["records_duplicate"] for r in manifest) == [0, 3000]
    assert verify(store_layout(store)).ok  # the rewritten files' hashes are the recorded ones


def store_layout(store: Path) -> Any:
    from ashiato.store.layout import StoreLayout

    return StoreLayout(store.resolve())


@pytest.mark.parametrize("keys_in_memory", [None, 100])
def test_a_file_concatenated_with_itself_is_one_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys_in_memory: int | None
) -> None:
    """Also past KEYS_IN_MEMORY keys, where the check reads them back (DuckDB, spilling)."""
    if keys_in_memory is not None:
        from ashiato.store import writer

        monkeypatch.setattr(writer, "KEYS_IN_MEMORY", keys_in_memory)
    data = bulk_ecs(500)
    (tmp_path / "twice.json").write_bytes(data + data)
    assert _one(ingest([tmp_path / "twice.json"], tmp_path / "s", workers=1)) == (
        1000,
        500,
        0,
        500,
    )
    assert _rows(tmp_path / "s") == [(500, 500, 500)]


def _evtx_copies(folder: Path, n: int) -> list[Path]:
    """``n`` copies of one EVTX, each slightly different (file header flags, slack bytes)."""
    folder.mkdir()
    data = EVTX.read_bytes()
    out = []
    for i in range(n):
        copy = bytearray(data)
        copy[100 + i] ^= 0xFF  # unused file header bytes: another SHA-256, the same records
        copy[-1 - i] ^= 0x01  # slack space at the end of the file
        p = folder / f"copy-{i}.evtx"
        p.write_bytes(bytes(copy))
        out.append(p)
    return out


@needs_evtx
def test_evtx_copies_store_each_record_once(tmp_path: Path) -> None:
    _evtx_copies(tmp_path / "copies", 6)
    store = tmp_path / "store"
    report = ingest([tmp_path / "copies"], store, workers=2)
    assert [f.status for f in report.files] == ["ingested"] * 6
    assert report.records_read == 6 * 3561
    assert report.records_stored == 3561
    assert report.records_duplicate == 5 * 3561
    assert _rows(store) == [(3561, 3561, 3561)]
    manifest = read_manifest(store_layout(store)).to_pylist()
    assert sorted(r["records_duplicate"] for r in manifest) == [0] + [3561] * 5
    assert all(
        r["records_read"] == r["records_stored"] + r["records_rejected"] + r["records_duplicate"]
        for r in manifest
    )


def _winlogbeat(evtx: Path) -> bytes:
    """The EVTX's events as Winlogbeat writes them: @timestamp to the millisecond, winlog.*."""
    out = []
    for rec in PyEvtxParser(str(evtx)).records_json():
        ev = orjson.loads(rec["data"])["Event"]
        sysd = ev["System"]
        eid = sysd["EventID"]
        code = eid["#text"] if isinstance(eid, dict) else eid
        when = sysd["TimeCreated"]["#attributes"]["SystemTime"]
        data = {k: v if isinstance(v, str) else orjson.dumps(v).decode()
                for k, v in (ev.get("EventData") or {}).items() if k != "#attributes"}  # fmt: skip
        out.append(
            orjson.dumps(
                {
                    "@timestamp": when[:23] + "Z",
                    "event": {"code": str(code), "provider": "x"},
                    "winlog": {
                        "channel": sysd["Channel"],
                        "computer_name": sysd["Computer"],
                        "event_id": code,
                        "record_id": sysd["EventRecordID"],
                        "provider_name": sysd["Provider"]["#attributes"]["Name"],
                        "event_data": data,
                    },
                }
            )
        )
    return b"\n".join(out) + b"\n"


@needs_evtx
def test_the_same_event_as_evtx_and_as_winlogbeat_json_is_stored_once(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_bytes(_winlogbeat(EVTX))
    store = tmp_path / "store"
    assert _one(ingest([EVTX], store, workers=1)) == (3561, 3561, 0, 0)
    assert _one(ingest([tmp_path / "export.json"], store, workers=1)) == (3561, 0, 0, 3561)
    assert _rows(store) == [(3561, 3561, 3561)]
    assert _rows(store, "source = 'evtx'") == [(3561, 3561, 3561)]  # the first arrival stays


def test_overlapping_zeek_logs_and_logs_sharing_uids(tmp_path: Path) -> None:
    lines = bulk_zeek(150).decode().splitlines(keepends=True)
    header, body = lines[:8], lines[8:]
    (tmp_path / "conn.1.log").write_text("".join(header + body[:100]))
    (tmp_path / "conn.2.log").write_text("".join(header + body[50:]))
    store = tmp_path / "store"
    report = ingest([tmp_path / "conn.1.log", tmp_path / "conn.2.log"], store, workers=1)
    assert [(f.records_stored, f.records_duplicate) for f in report.files] == [(100, 0), (50, 50)]
    # kerberos.log lines carry the uids of conn.log's connections: other records, all kept
    krb = ZEEK_HEADER.replace("#path\tconn", "#path\tkerberos")
    krb_lines = [zeek_line(ts=line.split("\t")[0], uid=line.split("\t")[1]) for line in body[:20]]
    (tmp_path / "kerberos.log").write_text(krb + "".join(krb_lines))
    rep = ingest([tmp_path / "kerberos.log"], store, workers=1, fmt="zeek_other")
    assert (rep.records_stored, rep.records_duplicate) == (20, 0)
    assert _rows(store) == [(170, 170, 170)]  # 150 connections, 20 Kerberos exchanges


def test_one_uid_on_several_lines_of_a_log_is_not_a_copy(tmp_path: Path) -> None:
    one = zeek_line(ts="1788876191.036086", uid="Cdce", resp_p="135", orig_bytes="100")
    two = zeek_line(ts="1788876191.036086", uid="Cdce", resp_p="135", orig_bytes="200")
    (tmp_path / "conn.log").write_text(ZEEK_HEADER + one + two + one)
    assert _one(ingest([tmp_path / "conn.log"], tmp_path / "s", workers=1)) == (3, 2, 0, 1)


def test_lines_without_identity_keep_their_repeats(tmp_path: Path) -> None:
    """LANL repeats identical lines legitimately; an overlapping file adds only what is new."""
    a = ["1,U1@D,U1@D,C1,C2,Kerberos,Network,LogOn,Success\n"] * 3
    b = ["2,U2@D,U2@D,C1,C2,Kerberos,Network,LogOn,Success\n"]
    c = ["3,U3@D,U3@D,C1,C3,NTLM,Network,LogOn,Fail\n"] * 2
    (tmp_path / "auth.1.txt").write_text("".join(a + b))
    (tmp_path / "auth.2.txt").write_text("".join(a[:2] + b + c))  # overlaps, then new lines
    (tmp_path / "auth.3.txt").write_text("".join(a * 2))  # one more copy than ever seen: 3 new
    store = tmp_path / "store"
    opts = {"lanl.epoch": "2026-09-01T00:00:00Z"}
    r1 = ingest([tmp_path / "auth.1.txt"], store, workers=1, options=opts)
    r2 = ingest([tmp_path / "auth.2.txt"], store, workers=1, options=opts)
    r3 = ingest([tmp_path / "auth.3.txt"], store, workers=1, options=opts)
    assert _one(r1) == (4, 4, 0, 0)
    assert _one(r2) == (5, 2, 0, 3)
    assert _one(r3) == (6, 3, 0, 3)
    assert _rows(store, "user = 'u1'")[0][0] == 6
    assert _rows(store)[0][:2] == (9, 9)
