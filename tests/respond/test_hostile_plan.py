"""c1's real plan with the intruder's names replaced by hostile ones: what cannot be an AD account
or a Windows host is listed for manual handling, never rendered, and stops nothing in the replay;
the terminal shows every name as typed, escaped."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console

from ashiato.respond.model import ContainmentPlan
from ashiato.respond.render import render_ad, render_replay, render_windows_firewall
from ashiato.respond.renderable import manual
from ashiato.respond.replay import replay_history
from tests.hostile import ISSUE_11, PAYLOADS, ps_code, raw_controls
from tests.respond.conftest import C1, Response

MARKUP = "[bold red]x[/]"


def hostile_plan(response: Response) -> ContainmentPlan:
    plan, _ = response.plan(C1)
    (a,) = plan.accounts
    network = [
        replace(b, dst_hosts=[*b.dst_hosts, MARKUP], outbound_hosts=[*b.outbound_hosts, ISSUE_11])
        for b in plan.network
    ]
    return replace(plan, network=network, accounts=[replace(a, account=ISSUE_11)])


def test_an_account_that_cannot_exist_is_listed_not_rendered(response: Response) -> None:
    plan = hostile_plan(response)
    ad = render_ad(plan)
    assert "Set-ADAccountPassword" not in ad and "Disable-ADAccount" not in ad
    assert "NOT RENDERED" in ad and "PWNED-B" in ad  # shown, escaped, in a comment
    for line in ad.splitlines():
        assert not line.strip() or line.startswith("#") or line == "Import-Module ActiveDirectory"
        assert ps_code(line).strip() in ("", "Import-Module ActiveDirectory")
    assert not raw_controls(ad)
    refused = [m for m in manual(plan) if m.what == "account"]
    assert [(m.rule, m.value) for m in refused] == [("A1", ISSUE_11)]


def test_replay_gives_an_unrendered_action_nothing(response: Response) -> None:
    plan = hostile_plan(response)
    rp = replay_history(plan, response.history(C1))
    for r in rp.rules:
        if r.rule == "A1":
            assert (r.malicious_stopped, r.legitimate_broken) == (0, 0)
            assert "not rendered" in r.note
    _, before = response.plan(C1)
    # the network blocks still render (the hostile host names are simply left out)
    for name in ("host blocks", "full plan"):
        assert rp.variant(name).malicious_stopped == before.variant(name).malicious_stopped
    text = render_replay(rp)
    assert not raw_controls(text) and len(text.splitlines()) == 7 + len(rp.variants) + len(rp.rules)


def test_firewall_leaves_out_hosts_that_cannot_be_names(response: Response) -> None:
    plan = hostile_plan(response)
    ps = render_windows_firewall(plan)
    assert not raw_controls(ps)
    for line in ps.splitlines():
        if line.startswith("Invoke-Command"):
            assert "bold" not in line and "PWNED" not in line
    hosts = {m.value for m in manual(plan) if m.what == "host"}
    assert hosts == {MARKUP, ISSUE_11}


def test_rich_plan_shows_names_escaped(response: Response) -> None:
    plan = hostile_plan(response)
    plan = replace(plan, incident=f"I-{PAYLOADS[2]}", manual=manual(plan))
    console = Console(record=True, width=400, color_system="truecolor")
    console.print(plan)
    out = console.export_text(styles=False)
    assert MARKUP in out  # shown as typed, not parsed as markup
    assert "\\n" in out and "\\x1b[2J" in out  # ISSUE_11's newline and ESC, shown escaped
    assert "Not rendered into any command" in out
    assert not raw_controls(out)
    styled = console.export_text(styles=True)
    assert "\x1b[2J" not in styled
