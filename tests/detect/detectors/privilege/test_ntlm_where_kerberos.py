"""Golden samples for privilege.ntlm_where_kerberos.

Hard negatives: NTLM by an account that used NTLM before, by a machine account, by a brand-new
account, and by an unprivileged account reaching few hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ashiato.detect.detectors.privilege import ntlm_where_kerberos
from ashiato.inventory import Inventory
from tests.conftest import ts
from tests.detect.detectors.privilege.misuse_helpers import Writer, kerberos, ntlm, run_det
from tests.detect.foldcheck import runs, seen


def test_ntlm_positive_admin_and_spree(inventory: Inventory, write_events: Writer) -> None:
    rows = kerberos("adm-sato", range(1, 11)) + kerberos("t.suzuki", range(1, 11))
    rows.append(ntlm("adm-sato", 12, "jp-dc-fs01", event_id="pth-admin"))
    hosts = ["jp-tky-ws001", "th-bkk-ws001", "th-bkk-ws002", "jp-dc-dc01", "jp-tky-ws009"]
    rows += [ntlm("t.suzuki", 13, h, minute=i, event_id=f"spree{i}") for i, h in enumerate(hosts)]
    f = sorted(
        run_det(write_events(rows), inventory, ntlm_where_kerberos.SPEC.id),
        key=lambda r: r["score"],
    )
    assert [r["entities"]["accounts"] for r in f] == [["t.suzuki"], ["adm-sato"]]
    spree, admin = f
    assert admin["score"] == 81.0  # 55, +15 privileged, +10 file server, +1 host
    assert admin["evidence"][0] == "pth-admin"
    assert "used Kerberos on 10 day(s) since 2026-09-01 (10 Kerberos events)" in admin["reason"]
    assert "no NTLM logon before in the data" in admin["reason"]
    assert spree["score"] == 70.0  # 55, +10 domain controller, +5 hosts
    assert "5 NTLM logon(s) to 5 host(s)" in spree["reason"]


def test_ntlm_negatives(inventory: Inventory, write_events: Writer) -> None:
    rows = kerberos("adm-sato", range(1, 11)) + kerberos("t.suzuki", range(1, 11))
    rows.append(ntlm("adm-sato", 3, "jp-dc-fs01"))  # NTLM is habitual for it
    rows.append(ntlm("adm-sato", 12, "jp-dc-fs01"))
    rows += [ntlm("t.suzuki", 13, h) for h in ("jp-dc-fs01", "jp-dc-dc01")]  # few hosts
    rows += kerberos("jp-tky-ws001$", range(1, 11))
    rows.append(ntlm("jp-tky-ws001$", 12, "jp-dc-dc01"))  # machine account
    rows += kerberos("adm-sato", range(9, 10))
    rows += kerberos("n.newhire", range(9, 13))  # Kerberos for 4 days only: no baseline
    hosts = ["jp-tky-ws001", "th-bkk-ws001", "th-bkk-ws002", "jp-dc-dc01", "jp-dc-fs01"]
    rows += [ntlm("n.newhire", 13, h) for h in hosts]
    rows.append(ntlm("adm-sato", 13, "jp-dc-fs01", outcome="failure", kind="logon_failure"))
    assert run_det(write_events(rows), inventory, ntlm_where_kerberos.SPEC.id) == []


def test_ntlm_day_by_day_equals_batch(tmp_path: Path, inventory: Inventory) -> None:
    """Windows that cross midnight: a spree reaching its hosts only after midnight (judged the
    next day over its whole window), an admin's onset followed into the next day, and a spree
    too small in total. Daily runs and day 13 delivered late judge as one batch run does."""
    rows = kerberos("adm-sato", range(1, 11)) + kerberos("t.suzuki", range(1, 11))
    rows += kerberos("s.chai", range(1, 11))
    spree = ["jp-tky-ws001", "th-bkk-ws001", "th-bkk-ws002", "jp-dc-dc01", "jp-tky-ws009"]
    rows += [_at("t.suzuki", 12, 22, h, i, f"s{i}") for i, h in enumerate(spree[:2])]
    rows += [_at("t.suzuki", 13, 1, h, i, f"s{i + 2}") for i, h in enumerate(spree[2:])]
    rows.append(_at("adm-sato", 14, 20, "jp-dc-fs01", 0, "a1"))
    rows.append(_at("adm-sato", 15, 2, "jp-dc-dc01", 0, "a2"))
    rows += [_at("s.chai", 16, 23, h, i, f"c{i}") for i, h in enumerate(spree[:2])]
    rows += [_at("s.chai", 17, 1, h, i, f"c{i + 2}") for i, h in enumerate(spree[2:4])]
    got = runs(
        tmp_path,
        rows,
        inventory,
        [ntlm_where_kerberos.SPEC.id],
        late=("2026-09-13", "2026-09-14"),
    )
    batch = got["batch"].findings.to_pylist()
    assert sorted(f["evidence"] for f in batch) == [["a1", "a2"], [f"s{i}" for i in range(5)]]
    s = next(f for f in batch if f["evidence"][0] == "s0")
    assert "5 NTLM logon(s) to 5 host(s)" in s["reason"]
    a = next(f for f in batch if f["evidence"][0] == "a1")
    assert "It went on from 2026-09-14 20:00 UTC to 2026-09-15 02:00 UTC" in a["reason"]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def _at(user: str, day: int, hour: int, dst: str, minute: int, eid: str) -> dict[str, Any]:
    row = ntlm(user, day, dst, minute=minute, event_id=eid)
    row["ts"] = ts(day, hour, minute)
    return row
