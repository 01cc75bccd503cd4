"""Golden samples for privilege.explicit_credentials.

Hard negatives: explicit credentials from the usual computer, a service account's on a server,
and an admin account's supplied where its owner is logged on (a business trip).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ashiato.detect.detectors.privilege import explicit_credentials
from ashiato.inventory import Inventory, load_inventory
from tests.conftest import ACCOUNTS_CSV, event, ts
from tests.detect.detectors.privilege.misuse_helpers import Writer, run_det


def _explicit(user: str, day: int, src: str, dst: str, hour: int = 3, **kw: Any) -> dict[str, Any]:
    return event(
        ts=ts(day, hour), user=user, kind="explicit_credentials", event_code=4648,
        logon_type=None, src_host=src, dst_host=dst, process="C:\\Windows\\System32\\net.exe",
        **kw,
    )  # fmt: skip


def _owned_inventory(inventory_dir: Path) -> Inventory:
    csv = ACCOUNTS_CSV.replace("adm-sato,CORP,Domain Admins,,human,JP-TKY,", "")
    (inventory_dir / "accounts.csv").write_text(
        csv + "adm-sato,CORP,Domain Admins,,human,JP-TKY,k.sato\n"
    )
    return load_inventory(inventory_dir)


def _servers_inventory(inventory_dir: Path) -> Inventory:
    """The test inventory with two more application servers (sources of a service's 4648s)."""
    with (inventory_dir / "assets.csv").open("a") as fh:
        fh.write("jp-dc-app01,10.2.0.31,JP-DC,server,high,,\n")
        fh.write("jp-dc-app02,10.2.0.32,JP-DC,server,high,,\n")
    return load_inventory(inventory_dir)


def _admin_baseline() -> list[dict[str, Any]]:
    return [_explicit("adm-sato", d, "jp-tky-ws001", "jp-dc-fs01") for d in range(1, 11)]


def test_explicit_positive_new_computer(inventory_dir: Path, write_events: Writer) -> None:
    rows = _admin_baseline()
    rows.append(_explicit("adm-sato", 12, "th-bkk-ws002", "jp-dc-fs01", event_id="x1"))
    rows.append(_explicit("adm-sato", 12, "th-bkk-ws002", "jp-dc-dc01", hour=4, event_id="x2"))
    f = run_det(write_events(rows), _owned_inventory(inventory_dir), explicit_credentials.SPEC.id)
    assert len(f) == 1
    assert f[0]["evidence"] == ["x1", "x2"]
    assert f[0]["score"] == 82.0  # 55, +15 privileged, +10 file server / DC, +2 hosts
    assert f[0]["severity"] == "high"
    assert (
        "credentials of adm-sato (Domain Admins) were supplied explicitly (4648) on th-bkk-ws002 "
        "(workstation, TH-BKK) at 2026-09-12 03:00 UTC, never before in the data" in f[0]["reason"]
    )
    assert "its owner k.sato did not log on at th-bkk-ws002 within 12 h" in f[0]["reason"]


def test_explicit_negatives(inventory_dir: Path, write_events: Writer) -> None:
    rows = _admin_baseline()
    rows.append(_explicit("adm-sato", 12, "jp-tky-ws001", "jp-dc-dc01"))  # usual computer
    rows.append(_explicit("adm-sato", 12, "th-bkk-ws001", "jp-dc-fs01"))
    rows.append(  # the owner at that desk on a business trip, logged on after the 4648
        event(ts=ts(12, 4), user="k.sato", dst_host="th-bkk-ws001", logon_type=2)
    )
    rows += [event(ts=ts(d, 2), user="svc-backup", dst_host="jp-dc-fs01") for d in range(1, 11)]
    rows.append(_explicit("svc-backup", 12, "jp-dc-dc01", "jp-dc-fs01"))  # its job, on a server
    assert (
        run_det(write_events(rows), _owned_inventory(inventory_dir), explicit_credentials.SPEC.id)
        == []
    )


def test_a_person_supplying_a_service_accounts_credentials_on_a_server(
    inventory_dir: Path, write_events: Writer
) -> None:
    """The service's own 4648s on a server (its computer, itself or a built-in account as the
    subject) are its jobs; the same credentials typed in a person's session there are someone
    using a found password. Each source is a known server: its own (account, source) pair."""
    rows = [event(ts=ts(d, 2), user="svc-backup", dst_host="jp-dc-fs01") for d in range(1, 11)]
    rows.append(
        _explicit("svc-backup", 11, "jp-dc-app01", "jp-dc-fs01", subject_user="jp-dc-app01$")
    )
    rows.append(_explicit("svc-backup", 11, "jp-dc-app02", "jp-dc-fs01", subject_user="svc-backup"))
    rows.append(_explicit("svc-backup", 11, "jp-dc-dc01", "jp-dc-fs01", subject_user="system"))
    rows.append(  # a person's session on another server, with a hostile name
        _explicit(
            "svc-backup", 12, "jp-dc-fs01", "jp-dc-dc01", subject_user="<b>k.ito</b>",
            event_id="p1",
        )
    )  # fmt: skip
    root = write_events(rows)
    f = run_det(root, _servers_inventory(inventory_dir), explicit_credentials.SPEC.id)
    assert [x["evidence"] for x in f] == [["p1"]]
    assert f[0]["entities"]["accounts"] == ["svc-backup"]  # the session may be the victim's
    assert json.loads(f[0]["details"])["supplied_by"] == ["<b>k.ito</b>"]
    assert f[0]["reason"].endswith(
        ", in the logon session of <b>k.ito</b> (a service account's credentials typed in a "
        "person's session)."
    )
    assert f[0]["score"] == 96.0  # 55, +15 privileged, +10 DC, +1 host, +15 a person's


def test_a_store_written_before_the_subject_column(
    inventory_dir: Path, write_events: Writer
) -> None:
    """Event files without ``subject_user`` (older stores) read it as null: every detector runs,
    and a service account's credentials on a server are left out as before."""
    import pyarrow.parquet as pq

    from ashiato.detect import runner

    rows = [event(ts=ts(d, 2), user="svc-backup", dst_host="jp-dc-fs01") for d in range(1, 11)]
    rows.append(_explicit("svc-backup", 12, "jp-dc-app01", "jp-dc-fs01", subject_user="k.ito"))
    root = write_events(rows)
    inv = _servers_inventory(inventory_dir)
    assert len(run_det(root, inv, explicit_credentials.SPEC.id)) == 1  # with the column
    for f in root.glob("events/day=*/*.parquet"):
        pq.write_table(pq.read_table(f).drop_columns(["subject_user"]), f)
    shutil.rmtree(root / "state")
    assert run_det(root, inv, explicit_credentials.SPEC.id) == []
    assert runner.detect(root, inv).findings.num_rows >= 0  # every detector, no error


def test_someone_else_supplying_an_owned_account(inventory_dir: Path, write_events: Writer) -> None:
    """An admin account supplied in its owner's session is the owner's own runas; in anyone
    else's session it is someone else's credentials, and scores higher."""
    rows = _admin_baseline()
    for day, src, subject in ((12, "th-bkk-ws002", "k.sato"), (13, "th-bkk-ws003", "s.chai")):
        rows.append(
            _explicit("adm-sato", day, src, "jp-tky-ws001", subject_user=subject, event_id=src)
        )
    f = run_det(write_events(rows), _owned_inventory(inventory_dir), explicit_credentials.SPEC.id)
    got = {x["evidence"][0]: x for x in f}
    assert got["th-bkk-ws002"]["score"] == 71.0  # 55, +15 privileged, +1 host
    assert got["th-bkk-ws003"]["score"] == 86.0  # and +15: not its owner's session
    assert got["th-bkk-ws003"]["reason"].endswith(
        ", in the logon session of s.chai, not its owner k.sato."
    )


def test_explicit_day_by_day_equals_batch(tmp_path: Path, inventory_dir: Path) -> None:
    """Onsets whose owner hours or evidence cross midnight: daily runs and a late day (the
    owner's logons of day 17, delivered after day 18) judge as one batch run does."""
    from tests.detect.foldcheck import runs, seen

    rows = _admin_baseline()
    # 23:00: the owner's 12 h run into day 13, so it is judged there, with both events
    rows.append(_explicit("adm-sato", 12, "th-bkk-ws002", "jp-dc-fs01", hour=23, event_id="a1"))
    rows.append(_explicit("adm-sato", 13, "th-bkk-ws002", "jp-dc-dc01", hour=2, event_id="a2"))
    # judged on day 14, followed into day 15
    rows.append(_explicit("adm-sato", 14, "th-bkk-ws003", "jp-dc-fs01", event_id="b1"))
    rows.append(_explicit("adm-sato", 15, "th-bkk-ws003", "jp-dc-fs01", hour=1, event_id="b2"))
    # the owner logs on at th-bkk-ws001 8 h after a 22:00 onset, on the next day
    rows.append(_explicit("adm-sato", 16, "th-bkk-ws001", "jp-dc-fs01", hour=22, event_id="c1"))
    rows.append(event(ts=ts(17, 6), user="k.sato", dst_host="th-bkk-ws001", logon_type=2))
    # ... and at th-bkk-ws004 7 h before an onset there, on the day before
    rows.append(event(ts=ts(17, 20), user="k.sato", dst_host="th-bkk-ws004", logon_type=10))
    rows.append(_explicit("adm-sato", 18, "th-bkk-ws004", "jp-dc-fs01", event_id="d1"))
    rows += [event(ts=ts(d, 9), user="k.ito", dst_host="jp-tky-ws001") for d in range(19, 21)]
    got = runs(
        tmp_path,
        rows,
        _owned_inventory(inventory_dir),
        [explicit_credentials.SPEC.id],
        late=("2026-09-17", "2026-09-18"),
    )
    batch = got["batch"].findings.to_pylist()
    assert sorted(f["evidence"] for f in batch) == [["a1", "a2"], ["b1", "b2"]]
    b = next(f for f in batch if f["evidence"] == ["b1", "b2"])
    assert "It went on from 2026-09-14 03:00 UTC to 2026-09-15 01:00 UTC" in b["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_explicit_judged_on_the_next_day_held(tmp_path: Path, inventory_dir: Path) -> None:
    """An onset whose owner hours run past midnight into a day the store does not hold is judged
    on the next day it holds (inside one slice, or in the next), with that day's evidence only."""
    from tests.detect.foldcheck import runs, seen

    rows = _admin_baseline()
    rows.append(_explicit("adm-sato", 12, "th-bkk-ws002", "jp-dc-fs01", hour=23, event_id="a1"))
    # no event at all on day 13
    rows.append(_explicit("adm-sato", 14, "th-bkk-ws002", "jp-dc-dc01", hour=2, event_id="a2"))
    rows.append(_explicit("adm-sato", 14, "th-bkk-ws002", "jp-dc-fs01", hour=21, event_id="a3"))
    got = runs(
        tmp_path,
        rows,
        _owned_inventory(inventory_dir),
        [explicit_credentials.SPEC.id],
        params={explicit_credentials.SPEC.id: {"evidence_hours": 48}},
        late=("2026-09-12", "2026-09-14"),
    )
    batch = got["batch"].findings.to_pylist()
    assert [f["evidence"] for f in batch] == [["a2", "a3"]]
    assert "at 2026-09-12 23:00 UTC, never before in the data" in batch[0]["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
