"""Realism checks from simulation-realism.md §3 that are cheap at small size (benign only).

If one of these fails, fix the benign model, not the band.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ashiato.inventory import load_inventory
from ashiato.simulate import SimulationSummary
from ashiato.simulate.realism import measure


@pytest.fixture(scope="module")
def stats(sim: tuple[Path, SimulationSummary]) -> dict[str, object]:
    return measure(sim[0])


def test_c7_network_logons_dominate(stats: dict[str, object]) -> None:
    assert 0.80 <= stats["C7_logon_type3_share"] <= 0.98  # type: ignore[operator]


def test_c8_machine_accounts(stats: dict[str, object]) -> None:
    assert 0.40 <= stats["C8_machine_share"] <= 0.70  # type: ignore[operator]


def test_c9_failure_floor(stats: dict[str, object]) -> None:
    assert 0.005 <= stats["C9_failure_share"] <= 0.03  # type: ignore[operator]
    assert len(stats["C9_failure_statuses"]) >= 3  # type: ignore[arg-type]


def test_c10_ntlm(stats: dict[str, object]) -> None:
    assert 0.05 <= stats["C10_ntlm_share"] <= 0.25  # type: ignore[operator]


def test_c11_weekend_volume(stats: dict[str, object]) -> None:
    assert 0.4 <= stats["C11_weekend_weekday_ratio"] <= 0.8  # type: ignore[operator]


def test_c12_local_time_peaks(stats: dict[str, object]) -> None:
    peaks: dict[str, int] = stats["C12_peak_local_hour"]  # type: ignore[assignment]
    assert set(peaks) >= {"JP-TKY-HQ", "TH-BKK", "ID-JKT", "PH-MNL"}
    assert set(peaks) <= {"JP-TKY-HQ", "TH-BKK", "ID-JKT", "PH-MNL", "VN-HCM"}
    assert all(8 <= h <= 11 for h in peaks.values())
    assert max(peaks.values()) - min(peaks.values()) <= 1


def test_hard_negatives_are_present(sim: tuple[Path, SimulationSummary]) -> None:
    """Admins, help desk, cross-site engineers and ops servers do what a naive rule flags."""
    out, _ = sim
    inv = load_inventory(out / "inventory")
    site_of_ip = {str(ip): a.site for a in inv.assets for ip in a.ips}
    site_of_host = {a.host: a.site for a in inv.assets}
    groups = {a.user: set(a.all_groups) for a in inv.accounts}
    truth = {
        (r["log_host"], r["record_id"])
        for r in map(orjson.loads, (out / "ground_truth.jsonl").read_bytes().splitlines())
        if r["type"] == "event"
    }
    seen: set[str] = set()
    helpdesk_targets: set[str] = set()
    for p in sorted((out / "logs" / "windows").iterdir()):
        for line in p.read_bytes().splitlines():
            ev = orjson.loads(line)
            w = ev["winlog"]
            host = w["computer_name"].split(".")[0]
            if w["event_id"] != "4624" or (host, w["record_id"]) in truth:
                continue
            d = w["event_data"]
            src, dst = site_of_ip.get(d["IpAddress"]), site_of_host[host]
            g = groups.get(d["TargetUserName"], set())
            if (
                "Domain Admins" in g
                and src == "JP-TKY-HQ"
                and dst in ("TH-BKK", "ID-JKT", "PH-MNL")
            ):
                seen.add("da-to-overseas")
            if "Domain Admins" in g and src in ("TH-BKK", "ID-JKT", "PH-MNL"):
                seen.add("da-trip")
            if "XSite-Engineering" in g and src != dst == "JP-OSA-DC":
                seen.add("xsite")
            if "Helpdesk" in g:
                helpdesk_targets.add(host)
            if d["TargetUserName"] in ("svc-sccm", "svc-backup", "svc-scan") and src != dst:
                seen.add(d["TargetUserName"])
    assert seen == {"da-to-overseas", "da-trip", "xsite", "svc-sccm", "svc-backup", "svc-scan"}
    assert len(helpdesk_targets) >= 40
