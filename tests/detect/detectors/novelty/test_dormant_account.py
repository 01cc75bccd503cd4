"""Golden samples for novelty.dormant_account.

The detector is not registered yet, so the runner's registry is swapped for this one module.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect import runner
from ashiato.detect.detectors.novelty import dormant_account
from ashiato.inventory import Inventory
from tests.conftest import event, ts

DET = ["novelty.dormant_account"]
Rows = list[dict[str, Any]]


@pytest.fixture(autouse=True)
def _only_this_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "DETECTORS", (dormant_account,))


def _tokyo_office() -> Rows:
    # Someone works in the Tokyo office every day, so its logs run from day 1.
    return [
        event(ts=ts(d, 3), user="k.ito", src_ip="10.1.0.101", dst_host="jp-tky-ws001")
        for d in range(1, 31)
    ]


def test_positive_gap_and_first_activity(
    inventory: Inventory, write_events: Callable[[Rows], Path]
) -> None:
    """An admin silent for 17 days; an unprivileged user silent past dormant_days."""
    rows = [
        *_tokyo_office(),
        event(ts=ts(1, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
        event(ts=ts(3, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
        # a failed logon in the silence is not a use of the credentials
        event(ts=ts(10, 2), user="adm-sato", src_ip="10.3.0.101", outcome="failure"),
        event(ts=ts(20, 17), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-tky-ws001"),
        event(ts=ts(21, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(22, 1), user="adm-sato", src_ip="10.3.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(2, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(25, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
    ]
    params = {DET[0]: {"dormant_days": 20}}
    f = runner.detect(write_events(rows), inventory, detectors=DET, params=params).findings
    got = {r["entities"]["accounts"][0]: r for r in f.to_pylist()}
    assert sorted(got) == ["adm-sato", "t.suzuki"]
    adm = got["adm-sato"]
    # the reactivation and the next 24 h; then the credential followed from the same source to
    # a host it had never reached from there (detect/follow.py)
    assert adm["evidence"] == ["e000033", "e000034", "e000035"]
    assert adm["score"] == 85.0 and adm["severity"] == "high"  # 55, +20 privileged, +10 fs
    assert "last active 18 days before, on 2026-09-03 02:00 UTC" in adm["reason"]
    assert "dormant after 14 days for a privileged account" in adm["reason"]
    assert "(file-server)" in adm["reason"]
    sz = got["t.suzuki"]
    assert sz["evidence"] == ["e000037"] and sz["score"] == 55.0
    assert "last active 23 days before" in sz["reason"]

    # A privileged inventory account never seen during the 14-day baseline.
    rows = [
        *_tokyo_office(),
        event(ts=ts(16, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-tky-ws001"),
    ]
    f = runner.detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 1 and f[0]["evidence"] == ["e000030"]
    assert f[0]["score"] == 75.0
    assert (
        "no activity in the first 15 days of data (since 2026-09-01 03:00 UTC)" in (f[0]["reason"])
    )


def test_negative_holidays_new_hires_services_machines(
    inventory: Inventory, write_events: Callable[[Rows], Path]
) -> None:
    """Hard negatives: an unprivileged user back after a 10-day holiday, an admin back after 10
    days (below dormant_days_privileged), an unprivileged inventory account and an account
    missing from the inventory both first seen mid-run (new hires), a privileged *service*
    account first used on day 25 (like the migration account), a machine account silent for
    20 days, and failed logons."""
    rows = [
        *_tokyo_office(),
        event(ts=ts(2, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(12, 5), user="t.suzuki", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(2, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(12, 2), user="adm-sato", src_ip="10.1.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(20, 4), user="s.chai", src_ip="10.3.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(20, 4), user="n.newhire", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(25, 13), user="svc-backup", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(1, 0), user="JP-TKY-WS001$", src_ip="10.1.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(21, 0), user="JP-TKY-WS001$", src_ip="10.1.0.101", dst_host="jp-dc-dc01"),
        event(ts=ts(28, 0), user="adm-sato", src_ip="10.3.0.101", outcome="failure"),
    ]
    rep = runner.detect(write_events(rows), inventory, detectors=DET)
    assert rep.findings.num_rows == 0


def test_silence_counts_from_when_the_home_site_logs(
    inventory: Inventory, write_events: Callable[[Rows], Path]
) -> None:
    """A site whose logs start late shows silence, not dormancy (service accounts opted in)."""
    params = {DET[0]: {"include_service_accounts": True}}
    tokyo = _tokyo_office()  # JP-DC, svc-backup's home site, appears only on day 10
    late = [
        event(ts=ts(10, 1), user="k.ito", src_ip="10.1.0.101", dst_host="jp-dc-fs01"),
        event(ts=ts(20, 1), user="svc-backup", src_ip="10.2.0.20", dst_host="jp-dc-dc01"),
    ]
    rep = runner.detect(write_events(tokyo + late), inventory, detectors=DET, params=params)
    assert rep.findings.num_rows == 0, "10 days since JP-DC began logging: below warmup_days"
    late[0]["ts"] = ts(5, 1)  # JP-DC logging from day 5: svc-backup silent for 15 days
    f = runner.detect(write_events(tokyo + late), inventory, detectors=DET, params=params)
    got = f.findings.to_pylist()
    assert len(got) == 1 and got[0]["score"] == 85.0  # privileged, reached a domain controller
    assert "in the 15 days since its home site JP-DC began logging" in got[0]["reason"]
