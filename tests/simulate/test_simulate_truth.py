"""Ground truth matches the logs exactly, and the planted campaign tells the intended story."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from ashiato.inventory import load_inventory
from ashiato.simulate import SimulationSummary, simulate
from ashiato.simulate.campaign import stage_days

CID = "c1-valid-admin-th-id-ph"


def _truth(out: Path) -> tuple[dict[str, object], list[dict[str, object]]]:
    recs = [orjson.loads(x) for x in (out / "ground_truth.jsonl").read_bytes().splitlines()]
    assert recs[0]["type"] == "campaign"
    return recs[0], recs[1:]


def _windows(out: Path) -> dict[tuple[str, str], dict[str, object]]:
    index = {}
    for p in sorted((out / "logs" / "windows").iterdir()):
        for line in p.read_bytes().splitlines():
            ev = orjson.loads(line)
            w = ev["winlog"]
            key = (w["computer_name"].split(".")[0], w["record_id"])
            assert key not in index, "(log_host, record_id) is unique"
            index[key] = ev
    return index


def _zeek(out: Path) -> dict[str, list[str]]:
    index = {}
    for p in sorted((out / "logs" / "zeek").iterdir()):
        for line in p.read_text().splitlines():
            if not line.startswith("#"):
                cells = line.split("\t")
                index[cells[1]] = cells
    return index


def test_truth_events_are_in_the_logs(sim: tuple[Path, SimulationSummary]) -> None:
    out, summary = sim
    head, events = _truth(out)
    assert set(head) >= {
        "id",
        "name",
        "description",
        "accounts",
        "src_hosts",
        "dst_hosts",
        "hosts",
        "sites",
        "start",
        "end",
        "techniques",
    }
    assert head["id"] == CID and "T1078.002" in head["techniques"]
    assert len(events) == summary.malicious_events > 0
    win, zeek = _windows(out), _zeek(out)
    keys = set()
    for rec in events:
        assert rec["campaign"] == CID and rec["type"] == "event"
        assert head["start"] <= rec["ts"] <= head["end"]
        if rec["source"] == "windows":
            ev = win[(rec["log_host"], rec["record_id"])]
            assert ev["@timestamp"] == rec["ts"]
            assert int(ev["winlog"]["event_id"]) == rec["event_code"]
            assert rec["log_host"] in head["hosts"]
        else:
            assert rec["log_host"] is None and rec["event_code"] is None
            cells = zeek[rec["record_id"]]
            when = dt.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00"))
            assert abs(when.timestamp() - float(cells[0])) < 1e-3
        keys.add((rec["log_host"], rec["record_id"]))
    assert len(keys) == len(events)
    # Exactness: every use of the account from the campaign's workstations is in the truth.
    account = head["accounts"][0]
    inv = load_inventory(out / "inventory")
    src_ips = {str(a.ips[0]) for a in inv.assets if a.host in head["src_hosts"]}
    for key, ev in win.items():
        data = ev["winlog"]["event_data"]
        user = data.get("TargetUserName", "").split("@")[0]
        ip = data.get("IpAddress", "").removeprefix("::ffff:")
        if user == account and ip in src_ips and ev["winlog"]["event_id"] != "4648":
            assert key in keys


def test_campaign_story(sim: tuple[Path, SimulationSummary]) -> None:
    out, _ = sim
    head, events = _truth(out)
    inv = load_inventory(out / "inventory")
    site = {a.host: a.site for a in inv.assets}
    tz = {s.name: ZoneInfo(s.timezone) for s in inv.sites}
    win = _windows(out)
    first: dict[str, str] = {}
    local_hours = set()
    shares = set()
    codes = set()
    for rec in events:
        if rec["source"] != "windows":
            continue
        ev = win[(rec["log_host"], rec["record_id"])]
        data = ev["winlog"]["event_data"]
        codes.add(rec["event_code"])
        ip = data.get("IpAddress", "").removeprefix("::ffff:")
        src = next((a.host for a in inv.assets if str(a.ips[0]) == ip), rec["log_host"])
        src_site = site[src]
        if src_site == "JP-OSA-DC":
            continue
        first.setdefault(src_site, rec["ts"])
        when = dt.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00"))
        local_hours.add(when.astimezone(tz[src_site]).hour)
        if rec["event_code"] == 5145:
            shares.add(data["ShareName"])
            assert data["RelativeTargetName"].startswith("CUST-")
    assert first["TH-BKK"] < first["ID-JKT"] < first["PH-MNL"]
    assert local_hours <= {22, 23, 0, 1, 2, 3, 4}
    assert shares == {"\\\\*\\CustomerData"}
    assert {4624, 4648, 4672, 4768, 4769, 5140, 5145} <= codes
    assert [site[h] for h in head["src_hosts"]] == ["TH-BKK", "ID-JKT", "PH-MNL"]
    account = head["accounts"][0]
    acc = next(a for a in inv.accounts if a.user == account)
    assert "Domain Admins" in acc.privileged_groups and acc.home_site == "JP-TKY-HQ"
    # The owner keeps using the account legitimately from Tokyo during the campaign.
    tky = {str(a.ips[0]) for a in inv.assets if a.site == "JP-TKY-HQ"}
    legit = [
        ev
        for ev in win.values()
        if ev["winlog"]["event_id"] == "4624"
        and ev["winlog"]["event_data"]["TargetUserName"] == account
        and ev["winlog"]["event_data"]["IpAddress"] in tky
        and ev["@timestamp"] > head["start"]
    ]
    assert legit
    zports = {
        int(c[5])
        for c in _zeek(out).values()
        if c[2] in {str(a.ips[0]) for a in inv.assets if a.host in head["src_hosts"]}
    }
    assert {88, 445, 1433, 443} <= zports


def test_stage_days_leave_a_baseline() -> None:
    th, idn, ph = stage_days(30)
    assert th >= 7 and 30 - th >= 14 and th < idn < ph < 30
    assert stage_days(1) == (0, 0, 0)
    for days in range(2, 60):
        a, b, c = stage_days(days)
        assert 0 <= a <= b <= c < days


def test_one_day_run_still_plants_the_campaign(tmp_path: Path) -> None:
    summary = simulate(tmp_path, terminals=40, days=1)
    head, events = _truth(tmp_path)
    assert summary.malicious_events == len(events) > 0
    assert len(head["src_hosts"]) == 3
