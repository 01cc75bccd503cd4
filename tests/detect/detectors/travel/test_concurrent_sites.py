"""Golden samples for travel.concurrent_sites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ashiato.detect import runner
from ashiato.detect.detectors.travel import concurrent_sites
from ashiato.inventory import Inventory
from tests.conftest import event, ts
from tests.detect.foldcheck import runs, seen

DET = ["travel.concurrent_sites"]
Write = Callable[[list[dict[str, Any]]], Path]
TKY, BKK, DC = "10.1.0.101", "10.3.0.101", "10.2.0.20"  # JP, TH, JP


@pytest.fixture(autouse=True)
def _only_this_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not registered yet: run it alone through the real runner.
    monkeypatch.setattr(runner, "DETECTORS", (concurrent_sites,))


def test_positive_admin_used_from_bangkok_while_owner_works_in_tokyo(
    inventory: Inventory, write_events: Write
) -> None:
    rows = [
        event(ts=ts(10, 1), user="adm-sato", src_ip=TKY, dst_host="jp-dc-fs01"),  # e000000
        event(ts=ts(10, 10), user="adm-sato", src_ip=TKY, dst_host="jp-dc-dc01"),  # e000001
        event(
            ts=ts(10, 12),
            kind="explicit_credentials",
            user="adm-sato",
            src_ip=BKK,
            dst_host="jp-dc-fs01",
        ),  # e000002: 2 h later from Bangkok, to a file server
        event(ts=ts(10, 12, 30), user="adm-sato", src_ip=TKY, dst_host="jp-dc-dc01"),  # e000003
        # an ordinary employee, same story, reaching only a workstation: base score
        event(ts=ts(11, 2), user="t.suzuki", src_ip=TKY, dst_host="jp-tky-ws001"),  # e000004
        event(ts=ts(11, 3), user="t.suzuki", src_ip=BKK, dst_host="th-bkk-ws002"),  # e000005
    ]
    f = runner.detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    assert len(f) == 2
    adm, suz = f  # sorted by score
    assert adm["entities"]["accounts"] == ["adm-sato"]
    assert adm["evidence"] == ["e000001", "e000002", "e000003"]
    assert adm["score"] == 95.0  # 70, +15 privileged, +10 Bangkok side reached a file server
    assert adm["severity"] == "critical"
    assert adm["entities"]["sites"] == ["JP-TKY", "TH-BKK"]
    assert "from th-bkk-ws001 in TH-BKK (TH) at 2026-09-10 12:00 UTC" in adm["reason"]
    assert "from jp-tky-ws001 in JP-TKY (JP) at 2026-09-10 12:30 UTC, 30 min apart" in adm["reason"]
    assert "2 such switch(es)" in adm["reason"] and "file-server" in adm["reason"]
    assert suz["entities"]["accounts"] == ["t.suzuki"]
    assert suz["evidence"] == ["e000004", "e000005"]
    assert suz["score"] == 70.0
    assert "1 h 00 min apart" in suz["reason"]


def test_negative_business_trip_same_country_service_machine_failure(
    inventory: Inventory, write_events: Write
) -> None:
    """Hard negatives: an admin who flies to Bangkok (last Tokyo use 16 h before the first
    Bangkok one) and works there for days; Tokyo and the Japanese data centre minutes apart (same
    country); a service account and a machine account used from both countries minutes apart
    (left out by design); a failed logon from Bangkok between Tokyo uses; a switch exactly
    ``min_travel_hours`` apart (not shorter)."""
    rows = []
    for d in range(1, 4):
        rows.append(event(ts=ts(d, 1), user="adm-sato", src_ip=TKY, dst_host="jp-dc-fs01"))
        rows.append(event(ts=ts(d, 1, 5), user="adm-sato", src_ip=DC, dst_host="jp-dc-dc01"))
    for d in range(4, 7):  # the trip: 01:00 UTC = 08:00 in Bangkok
        rows.append(event(ts=ts(d, 2), user="adm-sato", src_ip=BKK, dst_host="jp-dc-fs01"))
    rows += [
        event(ts=ts(8, 1), user="svc-backup", src_ip=DC, dst_host="jp-dc-fs01"),
        event(ts=ts(8, 1, 1), user="svc-backup", src_ip=BKK, dst_host="jp-dc-fs01"),
        event(ts=ts(8, 1), user="th-bkk-ws001$", src_ip=TKY, dst_host="jp-dc-dc01"),
        event(ts=ts(8, 1, 1), user="th-bkk-ws001$", src_ip=BKK, dst_host="jp-dc-dc01"),
        event(ts=ts(9, 1), user="t.suzuki", src_ip=TKY, dst_host="jp-dc-fs01"),
        event(
            ts=ts(9, 1, 10),
            user="t.suzuki",
            src_ip=BKK,
            dst_host="jp-dc-fs01",
            outcome="failure",
            event_code=4625,
        ),
        event(ts=ts(9, 1, 20), user="t.suzuki", src_ip=TKY, dst_host="jp-dc-fs01"),
        event(ts=ts(9, 5, 20), user="t.suzuki", src_ip=BKK, dst_host="th-bkk-ws002"),  # 4 h
    ]
    assert runner.detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0


def test_owner_at_the_desk_on_one_side_makes_the_other_side_the_actor(
    inventory: Inventory, write_events: Write
) -> None:
    """The admin sat down at their Tokyo desk (an interactive logon); the credential is used
    from Bangkok meanwhile: Bangkok is someone else, the only actor, and the finding says the
    two sides are rival parties (incident grouping keeps them apart)."""
    import json

    rows = [
        event(ts=ts(10, 0, 30), user="adm-sato", logon_type=2, dst_host="jp-tky-ws001"),
        event(ts=ts(10, 1), user="adm-sato", src_ip=TKY, dst_host="jp-dc-fs01"),
        event(ts=ts(10, 1, 30), user="adm-sato", src_ip=BKK, dst_host="jp-dc-fs01"),
        event(ts=ts(10, 2), user="adm-sato", src_ip=TKY, dst_host="jp-dc-dc01"),
    ]
    (f,) = runner.detect(write_events(rows), inventory, detectors=DET).findings.to_pylist()
    d = json.loads(f["details"])
    assert d["owner_at"] == ["jp-tky-ws001"] and d["rival_actors"] is True
    assert d["actors"] == ["adm-sato", "10.3.0.101", "th-bkk-ws001"]
    assert f["score"] == 100.0  # 95, +5: the owner is proven elsewhere
    assert "The owner was at the keyboard of jp-tky-ws001" in f["reason"]
    # without the desk logon neither side is known to be the owner: both act, no rivals
    (g,) = runner.detect(write_events(rows[1:]), inventory, detectors=DET).findings.to_pylist()
    dg = json.loads(g["details"])
    assert dg["rival_actors"] is False and dg["owner_at"] == []
    assert set(dg["actors"]) == {"adm-sato", TKY, BKK, "jp-tky-ws001", "th-bkk-ws001"}


def test_daily_runs_and_a_late_day_equal_one_batch_run(
    tmp_path: Path, inventory: Inventory
) -> None:
    """A switch across midnight: Tokyo at 23:00 on day 9 (the owner logged on at that desk
    that evening), Bangkok at 01:00 on day 10. Day 10 is judged against the last use kept in
    the state and reads day 9 for the desk; day 9 arriving after day 10 is judged again."""
    rows = [
        event(ts=ts(8, 1), user="adm-sato", src_ip=TKY, dst_host="jp-dc-fs01"),  # e000000
        event(
            ts=ts(9, 20), user="adm-sato", src_ip=TKY, dst_host="jp-tky-ws001", logon_type=2
        ),  # e000001: at the desk
        event(ts=ts(9, 23), user="adm-sato", src_ip=TKY, dst_host="jp-dc-fs01"),  # e000002
        event(ts=ts(10, 1), user="adm-sato", src_ip=BKK, dst_host="jp-dc-dc01"),  # e000003
        event(ts=ts(11, 1), user="adm-sato", src_ip=BKK, dst_host="jp-dc-dc01"),  # e000004
    ]
    got = runs(tmp_path, rows, inventory, DET, late=("2026-09-09", "2026-09-10"))
    f = got["batch"].findings.to_pylist()
    assert len(f) == 1
    assert f[0]["evidence"][:2] == ["e000002", "e000003"], "the two sides of the switch"
    assert (f[0]["first_seen"], f[0]["last_seen"]) == (ts(9, 23), ts(10, 1))
    assert "2 h 00 min apart" in f[0]["reason"]
    assert "The owner was at the keyboard of jp-tky-ws001" in f[0]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
