"""An intruder's machine the inventory does not know: its block still carries the addresses its
events came from, a source with no known address is said to be one (and gets no broken
command), and the replay credits each block only with what its rendered rules stop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ashiato.investigate import investigate
from ashiato.investigate.data import Source
from ashiato.respond.history import History, crosses_network, history_for
from ashiato.respond.model import ContainmentPlan, NetworkBlock, Replay
from ashiato.respond.plan import plan_from_history
from ashiato.respond.render import render_cisco_ios, render_nftables, render_windows_firewall
from ashiato.respond.renderable import rendered
from ashiato.respond.replay import replay_history
from ashiato.store import Store
from tests.hostile import ps_single_quoted_tokens
from tests.respond.conftest import C1, Response

GONE = "th-bkk-ws00013"
"""c1's first source workstation, taken out of the inventory: its 4624s then name it only by
its address (10.20.16.13, in the Bangkok office's subnet), its other events only by name."""
ADDRESS = "10.20.16.13"


@dataclass
class Unknown:
    hist: History
    plan: ContainmentPlan
    replay: Replay

    def block(self, src: str, level: str = "H") -> NetworkBlock:
        return next(b for b in self.plan.network if b.src_hosts == [src] and b.id[0] == level)


@pytest.fixture(scope="module")
def unknown(response: Response) -> Unknown:
    est = response.estate
    inv = est.inventory.model_copy(
        update={"assets": [a for a in est.inventory.assets if a.host != GONE]}
    )
    investigation = investigate(est.store, inv, "incident", est.incident[C1])
    source = Source.open(Store(est.store), inv)
    try:
        hist = history_for(source, inv, investigation)
    finally:
        source.close()
    plan = plan_from_history(inv, investigation, hist)
    return Unknown(hist, plan, replay_history(plan, hist))


def test_a_source_known_only_by_address_is_blocked_by_it(unknown: Unknown) -> None:
    b = unknown.block(ADDRESS)
    assert b.src_cidrs == [ADDRESS] and b.src_site == "TH-BKK"  # the site from its subnet
    assert "not in the inventory" in b.reason
    assert b.outbound_hosts == []  # no Invoke-Command to a machine nobody manages
    nft = render_nftables(unknown.plan)
    assert f"ip saddr {{ {ADDRESS} }}" in nft
    assert f" deny ip host {ADDRESS} " in render_cisco_ios(unknown.plan)
    (r,) = [x for x in unknown.replay.rules if x.rule == b.id]
    assert r.malicious_stopped > 0 and r.legitimate_broken == 0
    # the site block toward the hosts no Bangkok host used is back too (its site is known)
    assert any(x.level == "site" and x.src_site == "TH-BKK" for x in unknown.plan.network)


def test_a_source_without_any_address_is_said_and_stops_nothing(unknown: Unknown) -> None:
    b = unknown.block(GONE)
    assert b.src_cidrs == [] and "NO ADDRESS IS KNOWN" in b.reason
    assert any(m.rule == b.id and m.what == "no address" for m in unknown.plan.manual)
    assert any(GONE in s and "no address known" in s for s in unknown.plan.skipped)
    (r,) = [x for x in unknown.replay.rules if x.rule == b.id]
    assert (r.malicious_stopped, r.legitimate_broken) == (0, 0)  # no rule was rendered
    nft = render_nftables(unknown.plan)
    assert f"# {b.id}: no rule: no address pair known" in nft


def test_no_firewall_command_lacks_an_address(unknown: Unknown) -> None:
    ps = render_windows_firewall(unknown.plan)
    assert "NOT RENDERED" in ps and GONE in ps
    for line in ps.splitlines():
        if "New-NetFirewallRule" in line:
            remote = line.split("-RemoteAddress ", 1)[1]
            assert remote.startswith("'"), line
            assert len(ps_single_quoted_tokens(line)) >= 3  # name, an address, description
        if line.startswith("Invoke-Command"):
            assert f"'{ADDRESS}'" not in line and f"'{GONE}'" not in line


def test_replay_credits_the_rendered_rules_only(unknown: Unknown) -> None:
    """Each host block stops exactly the intrusion's events that its rendered rules match: from
    a rendered source address (the event's own or its host's) to a rendered destination address
    or a host that got the inbound rule, or from a host that got the outbound rule."""
    hist = unknown.hist

    def addrs(host: str | None, ip: str | None) -> set[str]:
        return {ip or "", *hist.addresses.get(host or "", [])}

    for b in unknown.plan.network:
        if b.level != "host":
            continue
        r = rendered(b)
        want = 0
        for e in hist.events:
            if e["event_id"] not in hist.malicious or not crosses_network(e):
                continue
            to_dst = bool(addrs(e["dst"], e["dst_ip"]) & set(r.dst))
            from_src = bool(addrs(e["src"], e["src_ip"]) & set(r.src))
            inbound = from_src and (to_dst or e["dst"] in r.inbound_hosts)
            want += inbound or (e["src"] in r.outbound_hosts and to_dst)
        (got,) = [x for x in unknown.replay.rules if x.rule == b.id]
        assert got.malicious_stopped == want, b.id


def test_contain_writes_no_broken_command(unknown: Unknown, tmp_path: Path) -> None:
    from ashiato.respond.render import write_plan

    write_plan(unknown.plan, tmp_path, unknown.replay)
    text = (tmp_path / "replay.txt").read_text()
    (gone,) = [x for x in unknown.replay.rules if x.rule == unknown.block(GONE).id]
    assert f"  {gone.rule} (all history): 0/" in text
