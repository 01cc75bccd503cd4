"""Every registered attack scenario, planted alone and via "all": truth matches the logs, and the
story has the property a detector would look for (spray breadth, pass-the-hash fan-out, ...)."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from ashiato.inventory import load_inventory
from ashiato.simulate import SCENARIOS, SimulationSummary, simulate
from tests.simulate.conftest import ALL

NEW = ["pth-spree", "slow-and-low", "password-spray", "insider-upload", "svc-compromise"]
#: issue 13's scenarios, checked in test_simulate_scenarios_issue13.py
ISSUE13 = [
    "pass-the-ticket",
    "svc-from-workstation",
    "holiday-logon",
    "rdp-staged-exfil",
    "allowed-path-switch",
]
ALONE = {"terminals": 60, "days": 14, "seed": 3}
Run = tuple[Path, SimulationSummary]


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    runs = {}
    for sid in NEW:
        out = tmp_path_factory.mktemp(sid)
        runs[sid] = (out, simulate(out, scenarios=[sid], **ALONE))
    return runs


class Logs:
    """The written logs of one run, indexed the way the ground truth keys them."""

    def __init__(self, out: Path) -> None:
        recs = [orjson.loads(x) for x in (out / "ground_truth.jsonl").read_bytes().splitlines()]
        self.heads = {r["id"]: r for r in recs if r["type"] == "campaign"}
        self.skipped = {r["id"]: r["reason"] for r in recs if r["type"] == "skipped"}
        self.events = [r for r in recs if r["type"] == "event"]
        self.win: dict[tuple[str, str], dict] = {}
        for p in sorted((out / "logs" / "windows").iterdir()):
            for line in p.read_bytes().splitlines():
                ev = orjson.loads(line)
                w = ev["winlog"]
                self.win[(w["computer_name"].split(".")[0], w["record_id"])] = ev
        self.zeek: dict[str, list[str]] = {}
        for p in sorted((out / "logs" / "zeek").iterdir()):
            for line in p.read_text().splitlines():
                if not line.startswith("#"):
                    cells = line.split("\t")
                    self.zeek[cells[1]] = cells
        self.inv = load_inventory(out / "inventory")
        self.ip = {a.host: str(a.ips[0]) for a in self.inv.assets}
        self.site = {a.host: a.site for a in self.inv.assets}

    def mine(self, cid: str) -> tuple[list[dict], list[list[str]]]:
        """The campaign's Windows events and Zeek records, looked up through the truth."""
        rows = [r for r in self.events if r["campaign"] == cid]
        win = [self.win[(r["log_host"], r["record_id"])] for r in rows if r["source"] == "windows"]
        return win, [self.zeek[r["record_id"]] for r in rows if r["source"] == "zeek"]


def _iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ts(ev: dict) -> dt.datetime:
    return _iso(ev["@timestamp"])


def _check_truth(logs: Logs, cid: str, malicious: int | None = None) -> None:
    head = logs.heads[cid]
    for key in ("accounts", "src_hosts", "dst_hosts", "hosts", "sites", "techniques"):
        assert head[key], (cid, key)
    rows = [r for r in logs.events if r["campaign"] == cid]
    assert rows
    lo, hi = _iso(head["start"]), _iso(head["end"])
    for r in rows:
        assert lo <= _iso(r["ts"]) <= hi
        if r["source"] == "windows":
            ev = logs.win[(r["log_host"], r["record_id"])]
            assert ev["@timestamp"] == r["ts"]
            assert int(ev["winlog"]["event_id"]) == r["event_code"]
            assert r["log_host"] in head["hosts"]
        else:
            assert r["record_id"] in logs.zeek
    if malicious is not None:
        assert malicious == len(logs.events)


def _spray(logs: Logs, cid: str) -> None:
    win, _ = logs.mine(cid)
    failed_by_ip: dict[str, set[str]] = defaultdict(set)
    times = []
    for ev in win:
        d, code = ev["winlog"]["event_data"], ev["winlog"]["event_id"]
        if ev["event"]["outcome"] == "failure":
            failed_by_ip[d["IpAddress"].removeprefix("::ffff:")].add(d["TargetUserName"])
            times.append(_ts(ev))
            if code == "4625" and d["SubStatus"] == "0xC000006A":
                assert d["Status"] == "0xC000006D"
    ip, names = max(failed_by_ip.items(), key=lambda kv: len(kv[1]))
    assert len(failed_by_ip) == 1 and len(names) >= 100
    assert max(times) - min(times) <= dt.timedelta(hours=1, minutes=5)
    codes = {ev["winlog"]["event_id"] for ev in win}
    assert {"4625", "4771", "4768", "4624"} <= codes
    winner = logs.heads[cid]["accounts"][0]
    assert winner in names
    assert any(
        ev["winlog"]["event_id"] == "4624"
        and ev["winlog"]["event_data"]["TargetUserName"] == winner
        and ev["winlog"]["event_data"]["IpAddress"] == ip
        for ev in win
    )


def _pth(logs: Logs, cid: str) -> None:
    win, _ = logs.mine(cid)
    logons = [
        ev
        for ev in win
        if ev["winlog"]["event_id"] == "4624"
        and ev["winlog"]["event_data"]["LogonType"] == "3"
        and ev["winlog"]["event_data"]["AuthenticationPackageName"] == "NTLM"
        and ev["winlog"]["event_data"]["LogonProcessName"].strip() == "NtLmSsp"
        and ev["winlog"]["event_data"]["KeyLength"] == "0"
    ]
    hosts = {ev["winlog"]["computer_name"].split(".")[0] for ev in logons}
    assert len(hosts) >= 20 and len({logs.site[h] for h in hosts}) == 1
    assert max(map(_ts, logons)) - min(map(_ts, logons)) <= dt.timedelta(hours=2)
    privileged = {ev["winlog"]["computer_name"] for ev in win if ev["winlog"]["event_id"] == "4672"}
    assert len(privileged) == len(hosts)
    shares = {
        ev["winlog"]["event_data"]["ShareName"] for ev in win if ev["event"]["code"] == "5140"
    }
    assert shares <= {"\\\\*\\ADMIN$", "\\\\*\\C$"} and "\\\\*\\ADMIN$" in shares


def _slow(logs: Logs, cid: str) -> None:
    win, _ = logs.mine(cid)
    head = logs.heads[cid]
    host_of_ip = {ip: h for h, ip in logs.ip.items()}
    hops = sorted(
        (_ts(ev), host_of_ip[ev["winlog"]["event_data"]["IpAddress"]], ev["host"]["name"])
        for ev in win
        if ev["winlog"]["event_id"] == "4624"
    )
    assert len(hops) >= 3
    for (_, _, dst), (_, src, _) in itertools.pairwise(hops):
        assert src == dst.split(".")[0], "each hop starts where the last one ended"
    dsts = [h[2] for h in hops]
    assert len(set(dsts)) == len(dsts)
    last = dsts[-1].split(".")[0]
    assert any(last == s.host and "CustomerData" in s.shares for s in logs.inv.data_stores)
    days = sorted({h[0].date() for h in hops})
    assert len(days) >= 3 and days[0] >= dt.date(2026, 9, 8)
    tky = ZoneInfo("Asia/Tokyo")
    assert all(10 <= h[0].astimezone(tky).hour < 17 for h in hops)
    assert head["sites"] == ["JP-TKY-HQ", "JP-OSA-DC"]


def _insider(logs: Logs, cid: str) -> None:
    win, flows = logs.mine(cid)
    head = logs.heads[cid]
    ip = logs.ip[head["src_hosts"][0]]
    names = {
        ev["winlog"]["event_data"]["RelativeTargetName"]
        for ev in win
        if ev["event"]["code"] == "5145"
    }
    assert len(names) >= 300
    start = dt.datetime.fromisoformat(head["start"].replace("Z", "+00:00"))
    bkk = ZoneInfo("Asia/Bangkok")
    assert all(not 8 <= _ts(ev).astimezone(bkk).hour < 19 for ev in win)
    daily: dict[dt.date, int] = defaultdict(int)
    for cells in logs.zeek.values():
        when = dt.datetime.fromtimestamp(float(cells[0]), dt.UTC)
        if cells[2] == ip and cells[13] == "F" and when < start:
            daily[when.date()] += int(cells[9])
    fs = head["dst_hosts"][0]
    user = head["accounts"][0]
    mal = {(r["log_host"], r["record_id"]) for r in logs.events}
    assert any(
        k[0] == fs
        and k not in mal
        and ev["winlog"]["event_data"].get("TargetUserName") == user
        and _ts(ev) < start
        for k, ev in logs.win.items()
    ), "a share the user normally uses"
    upload = sum(int(c[9]) for c in flows if c[13] == "F" and c[5] == "443")
    assert daily and upload >= 10 * max(daily.values()) and upload >= 10 * 2**30
    assert not {"Domain Admins", "Helpdesk", "Site Admins"} & set(
        next(a for a in logs.inv.accounts if a.user == head["accounts"][0]).all_groups
    )


def _svc(logs: Logs, cid: str) -> None:
    win, _ = logs.mine(cid)
    head = logs.heads[cid]
    svc = head["accounts"][0]
    assert next(a for a in logs.inv.accounts if a.user == svc).kind == "service"
    types = {
        ev["winlog"]["event_data"]["LogonType"] for ev in win if ev["winlog"]["event_id"] == "4624"
    }
    assert {"2", "10", "3"} <= types
    assert any(ev["winlog"]["event_id"] == "4648" for ev in win)
    mal = {(r["log_host"], r["record_id"]) for r in logs.events}
    benign_hosts = {
        k[0]
        for k, ev in logs.win.items()
        if k not in mal
        and ev["winlog"]["event_id"] == "4624"
        and ev["winlog"]["event_data"]["TargetUserName"] == svc
    }
    new = set(head["dst_hosts"]) - benign_hosts
    assert len(new) >= 3, "logs on to hosts the account never touches"


CHECKS: dict[str, Callable[[Logs, str], None]] = {
    "password-spray": _spray,
    "pth-spree": _pth,
    "slow-and-low": _slow,
    "insider-upload": _insider,
    "svc-compromise": _svc,
}


def test_registry() -> None:
    assert list(SCENARIOS) == ["c1-valid-admin-th-id-ph", *NEW, *ISSUE13]
    assert set(CHECKS) == set(NEW)


@pytest.mark.parametrize("sid", NEW)
def test_alone(alone: dict[str, Run], sid: str) -> None:
    out, summary = alone[sid]
    logs = Logs(out)
    assert list(logs.heads) == [sid]
    _check_truth(logs, sid, summary.malicious_events)
    CHECKS[sid](logs, sid)


@pytest.fixture(scope="module")
def all_logs(all_run: Run) -> Logs:
    return Logs(all_run[0])


def test_all(all_run: Run, all_logs: Logs) -> None:
    _, summary = all_run
    logs = all_logs
    assert list(logs.heads) == list(SCENARIOS)
    assert summary.malicious_events == len(logs.events)
    for sid in SCENARIOS:
        _check_truth(logs, sid)
    for sid, check in CHECKS.items():
        check(logs, sid)
    starts = {sid: logs.heads[sid]["start"][:10] for sid in NEW}
    assert len(set(starts.values())) >= 4, starts  # spread over the run, not one night
    assert all(s >= "2026-09-08" for s in starts.values()), "never in the baseline week"


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_deterministic(tmp_path: Path, alone: dict[str, Run]) -> None:
    simulate(tmp_path, scenarios=["pth-spree"], **ALONE)
    assert _digest(tmp_path) == _digest(alone["pth-spree"][0])


def test_same_story_alone_and_together(tmp_path: Path, all_logs: Logs) -> None:
    simulate(tmp_path, scenarios=["password-spray"], **ALL)
    head = orjson.loads((tmp_path / "ground_truth.jsonl").read_bytes().splitlines()[0])
    assert head == all_logs.heads["password-spray"]


def test_unknown_scenario_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario") as err:
        simulate(tmp_path, terminals=60, days=1, scenarios=["pth-spree", "nope"])
    for sid in SCENARIOS:
        assert sid in str(err.value)


def test_short_runs_still_plant_everything(tmp_path: Path) -> None:
    summary = simulate(tmp_path, terminals=60, days=2, scenarios=["all"])
    logs = Logs(tmp_path)
    assert logs.skipped.keys() == {"holiday-logon"}, "no holiday of an office on 1-2 September"
    assert "no weekday public holiday" in logs.skipped["holiday-logon"]
    assert list(logs.heads) == [sid for sid in SCENARIOS if sid not in logs.skipped]
    for sid in logs.heads:
        _check_truth(logs, sid)
    assert summary.malicious_events == len(logs.events)
