"""Golden samples for privilege.ntlm_where_kerberos.

Hard negatives: NTLM by an account that used NTLM before, by a machine account, by a brand-new
account, and by an unprivileged account reaching few hosts.
"""

from __future__ import annotations

from ashiato.detect.detectors.privilege import ntlm_where_kerberos
from ashiato.inventory import Inventory
from tests.detect.detectors.privilege.misuse_helpers import Writer, kerberos, ntlm, run_det


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
