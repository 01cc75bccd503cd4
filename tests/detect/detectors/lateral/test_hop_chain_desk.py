"""lateral.hop_chain: a hop from a desk where the account's owner sat down is not movement."""

from __future__ import annotations

from pathlib import Path

from ashiato.detect.runner import detect
from ashiato.inventory import load_inventory
from tests.conftest import event, ts
from tests.detect.detectors.lateral.test_hop_chain import DET, _admin_routine


def test_business_trip_is_not_a_hop(inventory_dir: Path, write_events) -> None:
    acc = inventory_dir / "accounts.csv"
    acc.write_text(
        acc.read_text().replace(
            "adm-sato,CORP,Domain Admins,,human,JP-TKY,",
            "adm-sato,CORP,Domain Admins,,human,JP-TKY,t.suzuki",
        )
    )
    inventory = load_inventory(inventory_dir)
    rows = _admin_routine()
    # remote support on the Bangkok PC, then the admin flies there and works from it
    rows.append(
        event(ts=ts(11, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(event(ts=ts(14, 1), user="t.suzuki", dst_host="th-bkk-ws001", logon_type=2))
    rows.append(
        event(ts=ts(14, 3), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    )
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
    # the same without anyone at the desk is a hop
    rows.pop(-2)
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 1


def test_a_desk_logon_the_day_before_explains_the_hop(inventory_dir: Path, write_events) -> None:
    """The owner sat at the Bangkok PC the day before the admin's hop from it (both days in one
    slice of a batch run): still someone at work there, as when the days are judged alone."""
    acc = inventory_dir / "accounts.csv"
    acc.write_text(
        acc.read_text().replace(
            "adm-sato,CORP,Domain Admins,,human,JP-TKY,",
            "adm-sato,CORP,Domain Admins,,human,JP-TKY,t.suzuki",
        )
    )
    rows = _admin_routine()
    rows.append(
        event(ts=ts(11, 3), user="adm-sato", src_host="jp-tky-ws001", dst_host="th-bkk-ws001")
    )
    rows.append(event(ts=ts(13, 9), user="t.suzuki", dst_host="th-bkk-ws001", logon_type=2))
    rows.append(
        event(ts=ts(14, 3), user="adm-sato", src_host="th-bkk-ws001", dst_host="jp-dc-fs01")
    )
    inventory = load_inventory(inventory_dir)
    assert detect(write_events(rows), inventory, detectors=DET).findings.num_rows == 0
