"""The one-call functions the CLI uses, and the rule files they write."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import orjson
import yaml

from ashiato.inventory.model import PolicyRule
from ashiato.respond import (
    ContainmentPlan,
    contain,
    notify_incident,
    render_cisco_ios,
    verify_incident,
)
from ashiato.respond.render import FILES
from tests.respond.conftest import C1, Response, truth_end


def test_contain_writes_rules_and_replay(response: Response, tmp_path: Path) -> None:
    estate = response.estate
    c = contain(estate.store, estate.inventory, estate.incident[C1], tmp_path)
    names = {p.name for p in c.files}
    assert set(FILES.values()) | {"plan.json", "replay.json", "replay.txt"} == names
    plan = c.plan
    nft = (tmp_path / FILES["nftables"]).read_text()
    assert nft.count("{") == nft.count("}")
    for b in plan.network:
        if "full plan" in b.variants:
            assert f'comment "ashiato {plan.incident} {b.id}"' in nft
            assert f"# {b.id}: " in nft
            assert all(ip in nft for ip in b.dst_ips)
    ps = (tmp_path / FILES["windows_firewall"]).read_text()
    assert ps.count("New-NetFirewallRule") >= len(
        [b for b in plan.network if "full plan" in b.variants]
    )
    ad = (tmp_path / FILES["accounts"]).read_text()
    assert "Set-ADAccountPassword -Identity 'adm-yamaguchi' -Reset" in ad
    assert "Disable-ADAccount" not in ad and "krbtgt" in ad
    pol = yaml.safe_load((tmp_path / FILES["policy"]).read_text())
    rules = [PolicyRule(**r) for r in pol["policy"]["rules"]]
    assert len(rules) == len(plan.policy)
    replay = orjson.loads((tmp_path / "replay.json").read_bytes())
    assert {v["variant"] for v in replay["variants"]} >= {"host blocks", "full plan"}
    assert "host blocks: " in (tmp_path / "replay.txt").read_text()
    again = ContainmentPlan.from_json(orjson.loads((tmp_path / "plan.json").read_bytes()))
    assert again == plan
    since = truth_end(estate, C1)
    v = verify_incident(
        estate.store, estate.inventory, estate.incident[C1], since, tmp_path / "plan.json"
    )
    assert v.verdict == "no activity since T"


def test_cisco_acl_lines(response: Response) -> None:
    plan, _ = response.plan(C1)
    text = render_cisco_ios(plan)
    denies = [ln for ln in text.splitlines() if ln.startswith(" deny ")]
    assert denies and text.count(" permit ip any any") == 1
    pat = re.compile(r"^ deny ip (host \S+|\S+ \S+) (host \S+|\S+ \S+) log$")
    assert all(pat.match(ln) for ln in denies)
    site = next(b for b in plan.network if b.level == "site" and "full plan" in b.variants)
    net = ipaddress.ip_network(site.src_cidrs[0])
    assert f" deny ip {net.network_address} {net.hostmask} host {site.dst_ips[0]} log" in text


def test_notify_incident(response: Response, tmp_path: Path) -> None:
    estate = response.estate
    n = notify_incident(estate.store, estate.inventory, estate.incident["svc-compromise"], tmp_path)
    assert (tmp_path / "customers.csv").exists()
    assert len(n.letters) == 2 * len(n.customers) > 0


def test_rich_rendering(response: Response) -> None:
    from rich.console import Console

    from ashiato.respond import verify_containment

    plan, rp = response.plan(C1)
    v = verify_containment(
        response.estate.store, response.estate.inventory, plan, truth_end(response.estate, C1)
    )
    console = Console(record=True, width=200)
    console.print(plan, rp, v)
    text = console.export_text()
    assert "reset adm-yamaguchi" in text and "host blocks" in text
    assert "no activity since T" in text and "jp-osa-dc01" in text
