"""Measure a simulation's benign output against the realism checks (simulation-realism.md §3).

Streams the written logs (never holds them), skips the records listed in the ground truth, and
returns the numbers the checks C7-C12 (and a few more) compare with their bands. Used by the tests
and by ``bench/simulate.py``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from ashiato.inventory import load_inventory

AUTH_CODES = frozenset({"4624", "4625", "4768", "4769"})


def _malicious(out: Path) -> set[tuple[str, str]]:
    keys = set()
    with (out / "ground_truth.jsonl").open("rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            if rec["type"] == "event" and rec["source"] == "windows":
                keys.add((rec["log_host"], rec["record_id"]))
    return keys


def _account(code: str, data: dict[str, str]) -> str:
    return data.get("TargetUserName", "").split("@")[0]


def measure(out: Path) -> dict[str, object]:
    """Benign-only statistics of the simulation in ``out``."""
    inv = load_inventory(out / "inventory")
    site_of_ip = {str(ip): a.site for a in inv.assets for ip in a.ips}
    tz = {s.name: ZoneInfo(s.timezone) for s in inv.sites}
    ws_sites = {a.site for a in inv.assets if a.role == "workstation"}
    mal = _malicious(out)
    auth = machine = failures = 0
    statuses: Counter[str] = Counter()
    logon_types: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    hourly: dict[str, Counter[int]] = {s: Counter() for s in ws_sites}
    humans = {a.user for a in inv.accounts if a.kind == "human"}
    edges: set[tuple[str, str]] = set()
    new_edges: Counter[str] = Counter()
    active: dict[str, set[str]] = {}
    for path in sorted((out / "logs" / "windows").glob("security-*.jsonl")):
        with path.open("rb") as fh:
            for line in fh:
                ev = orjson.loads(line)
                w = ev["winlog"]
                if (w["computer_name"].split(".")[0], w["record_id"]) in mal:
                    continue
                code = w["event_id"]
                data = w["event_data"]
                by_day[ev["@timestamp"][:10]] += 1
                if code not in AUTH_CODES:
                    continue
                auth += 1
                if _account(code, data).endswith("$"):
                    machine += 1
                if code == "4625" or (code == "4768" and data["Status"] != "0x0"):
                    failures += 1
                    sub = data.get("SubStatus", "0x0")
                    statuses[sub if sub not in ("0x0", "") else data["Status"]] += 1
                if code in ("4624", "4625"):
                    packages[data["AuthenticationPackageName"]] += 1
                if code == "4624":
                    logon_types[data["LogonType"]] += 1
                    user = data["TargetUserName"].lower()
                    if user in humans:
                        day = ev["@timestamp"][:10]
                        active.setdefault(day, set()).add(user)
                        edge = (user, w["computer_name"].split(".")[0])
                        if edge not in edges:
                            edges.add(edge)
                            new_edges[day] += 1
                    site = site_of_ip.get(data["IpAddress"])
                    if site in hourly and not data["TargetUserName"].endswith("$"):
                        when = dt.datetime.fromisoformat(ev["@timestamp"].replace("Z", "+00:00"))
                        hourly[site][when.astimezone(tz[site]).hour] += 1
    known = sum(packages[p] for p in ("Kerberos", "NTLM", "Negotiate"))
    weekday = [n for d, n in by_day.items() if dt.date.fromisoformat(d).weekday() < 5]
    weekend = [n for d, n in by_day.items() if dt.date.fromisoformat(d).weekday() >= 5]
    days = sorted(by_day)
    later = [d for d in days[7:] if dt.date.fromisoformat(d).weekday() < 5]
    per_user = [new_edges[d] / max(1, len(active.get(d, ()))) for d in later]
    later_counts = sorted(new_edges[d] for d in later)
    return {
        "C4_burst_ratio": (
            later_counts[-1] / max(1, later_counts[len(later_counts) // 2])
            if later_counts
            else None
        ),
        "auth_events": auth,
        "C1_new_edges_per_active_user_weekday_after_day7": (
            sorted(per_user)[len(per_user) // 2] if per_user else None
        ),
        "C16_top1pct_bytes_share": _top_bytes_share(out),
        "C7_logon_type3_share": logon_types["3"] / max(1, sum(logon_types.values())),
        "C8_machine_share": machine / max(1, auth),
        "C9_failure_share": failures / max(1, auth),
        "C9_failure_statuses": dict(statuses),
        "C10_ntlm_share": packages["NTLM"] / max(1, known),
        "C11_weekend_weekday_ratio": (sum(weekend) / len(weekend)) / (sum(weekday) / len(weekday))
        if weekend and weekday
        else None,
        "C12_peak_local_hour": {
            s: max(c, key=lambda k: (c[k], -k)) for s, c in sorted(hourly.items()) if c
        },
        "logon_types": dict(logon_types),
    }


def _top_bytes_share(out: Path) -> float:
    """Share of all conn.log bytes carried by the top 1% of connections (check C16)."""
    sizes: list[int] = []
    for path in sorted((out / "logs" / "zeek").glob("conn.*.log")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("#"):
                    cells = line.split("\t", 11)
                    sizes.append(int(cells[9]) + int(cells[10]))
    if not sizes:
        return 0.0
    arr = np.sort(np.array(sizes, dtype=np.float64))[::-1]
    k = max(1, len(arr) // 100)
    return float(arr[:k].sum() / arr.sum())
