"""Benign hard negatives (migration week, new office) happen, stay out of the truth, and keep the
realism checks inside their bands (simulation-realism.md §3) over a three-week run."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import orjson
import pytest
import yaml

from ashiato.inventory import load_inventory
from ashiato.simulate import SimulationSummary
from ashiato.simulate.config import Rates
from ashiato.simulate.hardneg import new_office_day
from ashiato.simulate.realism import measure
from tests.simulate.conftest import ALL

Run = tuple[Path, SimulationSummary]


@pytest.fixture(scope="module")
def benign(all_run: Run) -> list[tuple[str, dict]]:
    """(host, event) for every Windows record not in the ground truth."""
    out = all_run[0]
    truth = {
        (r["log_host"], r["record_id"])
        for r in map(orjson.loads, (out / "ground_truth.jsonl").read_bytes().splitlines())
        if r["type"] == "event"
    }
    rows = []
    for p in sorted((out / "logs" / "windows").iterdir()):
        for line in p.read_bytes().splitlines():
            ev = orjson.loads(line)
            w = ev["winlog"]
            host = w["computer_name"].split(".")[0]
            if (host, w["record_id"]) not in truth:
                rows.append((host, ev))
    return rows


def test_realism_bands_hold_with_hard_negatives_and_attacks(all_run: Run) -> None:
    stats = measure(all_run[0])
    assert stats["C4_burst_ratio"] >= 4  # type: ignore[operator]
    assert 0.80 <= stats["C7_logon_type3_share"] <= 0.98  # type: ignore[operator]
    assert 0.40 <= stats["C8_machine_share"] <= 0.70  # type: ignore[operator]
    assert 0.005 <= stats["C9_failure_share"] <= 0.03  # type: ignore[operator]
    assert 0.05 <= stats["C10_ntlm_share"] <= 0.25  # type: ignore[operator]
    assert 0.4 <= stats["C11_weekend_weekday_ratio"] <= 0.8  # type: ignore[operator]
    peaks: dict[str, int] = stats["C12_peak_local_hour"]  # type: ignore[assignment]
    assert all(8 <= h <= 11 for h in peaks.values())


def test_new_office_goes_live_mid_run(all_run: Run, benign: list[tuple[str, dict]]) -> None:
    out = all_run[0]
    inv = load_inventory(out / "inventory")
    hosts = {a.host for a in inv.assets if a.site == "VN-HCM"}
    ips = {str(a.ips[0]) for a in inv.assets if a.site == "VN-HCM"}
    assert hosts and any(a.home_site == "VN-HCM" for a in inv.accounts)
    live = dt.date(2026, 9, 1) + dt.timedelta(
        days=new_office_day(ALL["days"], Rates().new_office_online_frac)
    )
    days = set()
    for host, ev in benign:
        ip = ev["winlog"]["event_data"].get("IpAddress", "").removeprefix("::ffff:")
        if host in hosts or ip in ips:
            days.add(dt.date.fromisoformat(ev["@timestamp"][:10]))
    assert min(days) == live and len(days) >= 5
    rules = yaml.safe_load((out / "inventory" / "policy.yaml").read_text())["policy"]["rules"]
    assert "vn-hcm-staff-to-jp-file-shares" in {r["name"] for r in rules}


def test_migration_week(all_run: Run, benign: list[tuple[str, dict]]) -> None:
    inv = load_inventory(all_run[0] / "inventory")
    new_fs = {a.host for a in inv.assets if a.host.startswith("jp-osa-nfs")}
    old_fs = {a.host for a in inv.assets if a.role == "file-server"} - new_fs
    humans = {a.user for a in inv.accounts if a.kind == "human" and not a.privileged_groups}
    first: dict[str, str] = {}
    copied = set()
    for host, ev in benign:
        if ev["winlog"]["event_id"] != "4624":
            continue
        user = ev["winlog"]["event_data"]["TargetUserName"]
        if host in new_fs and user in humans:
            first.setdefault(user, ev["@timestamp"][:10])
        if user == "svc-migrate":
            copied.add(host)
    assert len(new_fs) >= 2 and len(first) >= 0.5 * len(humans)
    by_day: dict[str, int] = {}
    for day in first.values():
        by_day[day] = by_day.get(day, 0) + 1
    assert max(by_day.values()) >= 0.15 * len(humans), "a burst, not a trickle"
    assert min(first.values()) >= "2026-09-08"
    assert old_fs - {a.host for a in inv.assets if a.site != "JP-OSA-DC"} <= copied


TEN_HOURS = dt.timedelta(hours=10)


def _when(ev: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(ev["@timestamp"].replace("Z", "+00:00"))


def test_operations_accounts_obtain_tgts_and_trips_leave_a_flight(
    all_run: Run, benign: list[tuple[str, dict]]
) -> None:
    """Two realism checks that detectors depend on: an admin's or help-desk account's service
    ticket follows a TGT for it from the same address within 10 h (else its routine looks like a
    ticket imported from elsewhere); and a Domain Admin's business trip leaves more than 4 h
    between the last use at home and the first abroad (else the trip is impossible travel)."""
    inv = load_inventory(all_run[0] / "inventory")
    ops = {a.user for a in inv.accounts if {"Domain Admins", "Helpdesk"} & set(a.all_groups)}
    country = {s.name: s.country for s in inv.sites}
    site_of_ip = {str(ip): a.site for a in inv.assets for ip in a.ips}
    tgts: dict[tuple[str, str], list[dt.datetime]] = {}
    tickets: list[tuple[str, str, dt.datetime]] = []
    uses: dict[str, list[tuple[dt.datetime, str]]] = {}
    for _host, ev in benign:
        w = ev["winlog"]
        d = w["event_data"]
        user = d.get("TargetUserName", "").split("@")[0]
        ip = d.get("IpAddress", "").removeprefix("::ffff:")
        if user not in ops:
            continue
        if w["event_id"] == "4768" and d.get("Status", "0x0") == "0x0":
            tgts.setdefault((user, ip), []).append(_when(ev))
        elif w["event_id"] == "4769":
            tickets.append((user, ip, _when(ev)))
        elif w["event_id"] == "4624" and ip in site_of_ip:
            uses.setdefault(user, []).append((_when(ev), country[site_of_ip[ip]]))
    assert tickets, "no operations tickets to check"
    orphans = [
        (u, ip, t)
        for u, ip, t in tickets
        if not any(dt.timedelta(0) <= t - g <= TEN_HOURS for g in tgts.get((u, ip), []))
    ]
    assert orphans == []
    switches = []
    for user, seq in uses.items():
        seq.sort()
        for (t0, c0), (t1, c1) in itertools.pairwise(seq):
            if c0 != c1 and t1 - t0 < dt.timedelta(hours=4):
                switches.append((user, t0, c0, t1, c1))
    assert any(c != "JP" for seq in uses.values() for _, c in seq)  # a trip happened
    assert switches == []
