"""Inputs: zip members, bz2 and gzip by magic bytes, globs, stdin; damage becomes rejections."""

from __future__ import annotations

import bz2
import gzip
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.ingest.ingest_samples import bulk_ecs, bulk_zeek

from ashiato.errors import IngestError
from ashiato.ingest import ingest
from ashiato.ingest.inputs import InputRef, discover, hash_input, open_input
from ashiato.store.layout import StoreLayout
from ashiato.store.manifest import read_manifest, read_rejects


def _manifest(store: Path) -> dict[str, dict]:
    return {r["path"]: r for r in read_manifest(StoreLayout(store)).to_pylist()}


def test_zip_members_are_inputs(tmp_path: Path) -> None:
    z = tmp_path / "logs.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("win/security.json", bulk_ecs(40))
        zf.writestr("zeek/conn.log", bulk_zeek(30))
        zf.writestr("__MACOSX/._junk", b"x")
        zf.writestr("nested/", b"")
    refs = discover([z])
    assert [r.member for r in refs] == ["win/security.json", "zeek/conn.log"]
    report = ingest([z], tmp_path / "store", workers=1)
    assert report.records_read == 70 and report.records_rejected == 0
    m = _manifest(tmp_path / "store")
    assert set(m) == {f"{z}!win/security.json", f"{z}!zeek/conn.log"}
    # the manifest hash is the member's own bytes
    assert m[f"{z}!zeek/conn.log"]["sha256"] == hash_input(InputRef(str(z), "zeek/conn.log"))[0]


def test_bz2_and_renamed_gzip(tmp_path: Path) -> None:
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress(bulk_zeek(25)))
    (tmp_path / "b.txt").write_bytes(gzip.compress(bulk_ecs(15)))  # gzip without .gz
    report = ingest([tmp_path], tmp_path / "store", workers=1)
    assert {f.parser for f in report.files} == {"zeek_conn", "ecs_json"}
    assert report.records_stored == 40


def test_truncated_bz2_is_one_rejection(tmp_path: Path) -> None:
    data = bz2.compress(bulk_ecs(6000))  # several 900 kB bz2 blocks
    (tmp_path / "cut.json.bz2").write_bytes(data[: len(data) * 3 // 4])
    report = ingest([tmp_path / "cut.json.bz2"], tmp_path / "store", workers=1)
    f = report.files[0]
    assert f.records_read == f.records_stored + f.records_rejected + f.records_duplicate
    rej = read_rejects(StoreLayout(tmp_path / "store")).to_pylist()
    assert any(r["reason"].startswith("truncated bz2 stream after line") for r in rej)


def test_corrupt_zip_member_is_rejection_not_crash(tmp_path: Path) -> None:
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("security.json", bulk_ecs(2000))
    raw = bytearray(z.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 64] = bytes(64)  # damage the deflate stream (CRC will not match either)
    z.write_bytes(bytes(raw))
    report = ingest([z], tmp_path / "store", workers=1)
    f = report.files[0]
    assert f.status == "ingested" and f.records_stored > 0
    assert f.records_read == f.records_stored + f.records_rejected + f.records_duplicate
    rej = read_rejects(StoreLayout(tmp_path / "store")).to_pylist()
    assert any(r["reason"].startswith("corrupt archive member stream") for r in rej)


def test_nothing_readable_says_why(tmp_path: Path) -> None:
    (tmp_path / "x.bz2").write_bytes(bz2.compress(b"some text\n" * 10)[:20])
    f = ingest([tmp_path / "x.bz2"], tmp_path / "store", workers=1).files[0]
    assert f.status.startswith("failed: unreadable: truncated bz2 stream")


def test_glob_and_missing(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"conn.{i}.log").write_bytes(bulk_zeek(5, seed=i))
    (tmp_path / "other.txt").write_text("hello\n")
    refs = discover([str(tmp_path / "conn.*.log")])
    assert [Path(r.path).name for r in refs] == ["conn.0.log", "conn.1.log", "conn.2.log"]
    with pytest.raises(IngestError, match="no input matches"):
        discover([str(tmp_path / "nothing*.log")])
    with pytest.raises(IngestError, match="input not found"):
        discover([tmp_path / "absent.log"])


def test_stdin(tmp_path: Path) -> None:
    store = tmp_path / "store"
    exe = Path(sys.executable).with_name("ashiato")
    p = subprocess.run(
        [str(exe), "ingest", "-", "--store", str(store)],
        input=bulk_zeek(12),
        capture_output=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    m = _manifest(store)
    assert list(m) == ["<stdin>"] and m["<stdin>"]["records_stored"] == 12
    assert not list((store / "tmp").iterdir()), "the stdin spool is removed"


def test_open_input_closes_everything(tmp_path: Path) -> None:
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.gz", gzip.compress(b"hello\n"))
    with open_input(InputRef(str(z), "a.gz")) as fh:
        assert io.BufferedReader(fh).read() == b"hello\n"  # type: ignore[arg-type]


def test_unknown_tz_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="unknown time zone"):
        ingest([tmp_path], tmp_path / "store", tz="Mars/Olympus")
