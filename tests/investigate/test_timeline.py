"""The timeline merges events and findings in (ts, event_id) order, with local times beside UTC,
and holds the campaign's own records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ashiato.investigate import write_csv, write_jsonl
from tests.investigate.conftest import Estate

C1 = "c1-valid-admin-th-id-ph"


def test_sorted_with_every_finding(estate: Estate) -> None:
    inv = estate.of(C1)
    t = inv.timeline
    keys = list(zip(t.column("ts").to_pylist(), t.column("event_id").to_pylist(), strict=True))
    assert keys == sorted(keys)
    finding_rows = {r["event_id"] for r in t.to_pylist() if r["kind"] == "finding"}
    assert finding_rows == set(inv.seeds.finding_ids)


def test_holds_the_campaigns_windows_records(estate: Estate) -> None:
    """Every Windows record of c1 is in the timeline, under its account (flows carry none)."""
    t = estate.of(C1).timeline
    users = dict(zip(t.column("event_id").to_pylist(), t.column("user").to_pylist(), strict=True))
    windows = estate.truth_windows[C1]
    got = windows & set(users)
    assert len(got) / len(windows) >= 0.95, len(windows - got)
    assert all(users[e] == "adm-yamaguchi" for e in got)


def test_local_times_of_source_and_destination_sites(estate: Estate) -> None:
    rows = [
        r
        for r in estate.of(C1).timeline.to_pylist()
        if r["src"] == "th-bkk-ws00013" and r["dst"] == "jp-osa-dc01"
    ]
    assert rows
    r = rows[0]
    assert r["src_local"].endswith("+07") and r["dst_local"].endswith("JST")
    utc_hour = r["ts"].hour
    assert int(r["src_local"][11:13]) == (utc_hour + 7) % 24
    assert int(r["dst_local"][11:13]) == (utc_hour + 9) % 24


def test_exports(estate: Estate, tmp_path: Path) -> None:
    t = estate.of("svc-compromise").timeline
    jl = write_jsonl(t, tmp_path / "t.jsonl")
    lines = jl.read_text().splitlines()
    assert len(lines) == t.num_rows
    assert json.loads(lines[0])["event_id"] == t.column("event_id")[0].as_py()
    with write_csv(t, tmp_path / "t.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == t.num_rows and "src_local" in rows[0]


def test_exports_neutralise_hostile_values(tmp_path: Path) -> None:
    """Formula cells get a leading quote and controls show escaped; raw=True keeps the bytes;
    JSON lines keep exact values with C1 and bidirectional characters escaped."""
    from datetime import UTC, datetime

    import pyarrow as pa

    from ashiato.investigate.timeline import TIMELINE

    user = "=x'; Set-Content -Path PWNED-A.txt -Value 1; '\nPWNED-B #\x1b[2J"
    row = {f.name: None for f in TIMELINE}
    row |= {"ts": datetime(2026, 9, 6, tzinfo=UTC), "event_id": "e1", "kind": "logon"}
    row |= {"user": user, "src": "-2+3+cmd|' /C calc'!A0", "share": "@SUM(1)\u202e", "path": "ok"}
    t = pa.Table.from_pylist([row], schema=TIMELINE)
    with write_csv(t, tmp_path / "t.csv").open(newline="") as fh:
        (got,) = list(csv.DictReader(fh))
    assert got["user"] == "'=x'; Set-Content -Path PWNED-A.txt -Value 1; '\\nPWNED-B #\\x1b[2J"
    assert got["src"] == "'-2+3+cmd|' /C calc'!A0"
    assert got["share"] == "'@SUM(1)\\u202e" and got["path"] == "ok"
    with write_csv(t, tmp_path / "raw.csv", raw=True).open(newline="") as fh:
        (raw,) = list(csv.DictReader(fh))
    assert raw["user"] == user
    text = write_jsonl(t, tmp_path / "t.jsonl").read_text()
    assert "\u202e" not in text and "\x1b" not in text
    assert json.loads(text)["share"] == "@SUM(1)\u202e"
