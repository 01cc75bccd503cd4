"""Inventory loading: valid files load; every error names the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from ashiato.errors import InventoryError
from ashiato.inventory import Role, load_inventory
from ashiato.inventory.resolve import Resolver


def test_valid_inventory_loads(inventory_dir: Path) -> None:
    inv = load_inventory(inventory_dir)
    assert [s.name for s in inv.sites] == ["JP-TKY", "JP-DC", "TH-BKK"]
    assert {a.host for a in inv.assets} >= {"jp-dc-fs01", "th-bkk-ws001"}
    assert inv.assets[0].role is Role.DOMAIN_CONTROLLER
    adm = next(a for a in inv.accounts if a.user == "adm-sato")
    assert adm.privileged and adm.privileged_groups == ["Domain Admins"]
    chai = next(a for a in inv.accounts if a.user == "s.chai")
    assert not chai.privileged and chai.groups == ["XSite"]
    assert len(inv.policy.rules) == 3


def _err(d: Path) -> str:
    with pytest.raises(InventoryError) as exc:
        load_inventory(d)
    return str(exc.value)


def test_unknown_key_names_file_and_line(inventory_dir: Path) -> None:
    text = (
        (inventory_dir / "sites.yaml")
        .read_text()
        .replace("    timezone: Asia/Bangkok\n", "    timezone: Asia/Bangkok\n    colour: blue\n")
    )
    (inventory_dir / "sites.yaml").write_text(text)
    msg = _err(inventory_dir)
    line = text.splitlines().index("    colour: blue") + 1
    assert f"sites.yaml:{line}" in msg
    assert "sites[2].colour" in msg and "unknown key" in msg


def test_bad_timezone(inventory_dir: Path) -> None:
    p = inventory_dir / "sites.yaml"
    p.write_text(p.read_text().replace("Asia/Bangkok", "Asia/Bangkokk"))
    msg = _err(inventory_dir)
    assert "sites.yaml:" in msg and "timezone" in msg and "Asia/Bangkokk" in msg


def test_bad_csv_row_names_line(inventory_dir: Path) -> None:
    p = inventory_dir / "assets.csv"
    p.write_text(p.read_text() + "th-bkk-ws003,10.3.0.999,TH-BKK,workstation,low,,\n")
    msg = _err(inventory_dir)
    assert "assets.csv:7" in msg and "ips" in msg


def test_unknown_role_in_csv(inventory_dir: Path) -> None:
    p = inventory_dir / "assets.csv"
    p.write_text(
        p.read_text().replace(
            "jp-dc-fs01,10.2.0.20,JP-DC,file-server", "jp-dc-fs01,10.2.0.20,JP-DC,toaster"
        )
    )
    msg = _err(inventory_dir)
    assert "assets.csv:3" in msg and "role" in msg


def test_unknown_site_reference(inventory_dir: Path) -> None:
    p = inventory_dir / "accounts.csv"
    p.write_text(
        p.read_text().replace("s.chai,CORP,,XSite,human,TH-BKK", "s.chai,CORP,,XSite,human,TH-CNX")
    )
    msg = _err(inventory_dir)
    assert "TH-CNX" in msg and "home_site" in msg


def test_unknown_top_level_section(inventory_dir: Path) -> None:
    (inventory_dir / "extra.yaml").write_text("sites: []\nfirewalls: []\n")
    msg = _err(inventory_dir)
    assert "extra.yaml:2" in msg and "firewalls" in msg


def test_policy_bad_selector(inventory_dir: Path) -> None:
    p = inventory_dir / "policy.yaml"
    p.write_text(p.read_text().replace("accounts: group:XSite", "accounts: admins"))
    msg = _err(inventory_dir)
    assert "policy.yaml:" in msg and "accounts" in msg


def test_broken_yaml(inventory_dir: Path) -> None:
    (inventory_dir / "sites.yaml").write_text("sites:\n  - name: [unclosed\n")
    assert "not valid YAML" in _err(inventory_dir)


def test_resolver(inventory_dir: Path) -> None:
    r = Resolver(load_inventory(inventory_dir))
    assert r.endpoint("jp-dc-fs01", None).role == "file-server"
    assert r.endpoint(None, "10.3.0.101").asset == "th-bkk-ws001"
    assert r.endpoint(None, "10.3.9.9").site == "TH-BKK"  # by CIDR, unknown host
    assert r.endpoint("th-bkk-ws777", None).site == "TH-BKK"  # by host pattern
    assert r.endpoint(None, "203.0.113.5").site is None
