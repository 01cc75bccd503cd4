"""The containment plan against the simulator's ground truth: blocks from the real source hosts
to the hosts they reached, the right action per account, and a policy the intrusion breaks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ashiato.inventory.model import Inventory, PolicyRule
from ashiato.inventory.policy import evaluate
from ashiato.respond.history import crosses_network, from_sources
from ashiato.respond.plan import FULL, HOST, ISOLATE, plan_from_history
from tests.respond.conftest import C1, Response


def test_malicious_labels_match_truth(response: Response) -> None:
    """What replay calls the intrusion's: every truth event of c1, and nearly nothing else."""
    hist = response.history(C1)
    truth = response.estate.truth_events[C1]
    loaded = {r["event_id"] for r in hist.events}
    assert truth <= loaded
    recall = len(hist.malicious & truth) / len(truth)
    precision = len(hist.malicious & truth) / len(hist.malicious)
    assert recall == 1.0
    assert precision >= 0.99, sorted(hist.malicious - truth)[:10]


def test_host_blocks_come_from_the_truth_sources(response: Response) -> None:
    plan, _ = response.plan(C1)
    truth = response.estate.campaigns[C1]
    host = [b for b in plan.network if HOST in b.variants and b.level == "host"]
    assert sorted(h for b in host for h in b.src_hosts) == sorted(truth["src_hosts"])
    for b in plan.network:
        assert set(b.dst_hosts) <= set(truth["dst_hosts"]), b.id
        assert b.dst_ips and b.src_cidrs and b.evidence and b.reason
        assert set(b.evidence) <= response.estate.truth_events[C1], b.id
    isolate = [b for b in plan.network if ISOLATE in b.variants]
    assert {d for b in isolate for d in b.dst_hosts} == set(truth["dst_hosts"])
    # the paths the workstations' own users need (their domain controller) stay open
    assert all("jp-osa-dc01" not in b.dst_hosts for b in host)
    assert any("jp-osa-dc01" in s and "kept open" in s for s in plan.skipped)


def test_site_blocks_only_where_the_baseline_allows(response: Response) -> None:
    plan, _ = response.plan(C1)
    hist = response.history(C1)
    legit = hist.legit_until(plan.at)
    sites = [b for b in plan.network if b.level == "site"]
    assert sites
    for b in sites:
        used = [r for r in legit if r["src_site"] == b.src_site and r["dst"] in b.dst_hosts]
        assert not used, (b.id, used[:3])


def test_account_actions(response: Response) -> None:
    """The Domain Admin whose owner still works is reset, the service account reset, the
    sprayed ordinary account disabled; krbtgt only where a DC was reached by a domain admin."""
    c1, _ = response.plan(C1)
    (a,) = c1.accounts
    assert (a.account, a.action, a.privileged) == ("adm-yamaguchi", "reset", True)
    assert "still works" in a.reason and a.owner == "u.yamaguchi102"
    assert a.owner_hosts == ["jp-tky-ws00001"]
    assert c1.krbtgt is not None and "jp-osa-dc01" in c1.krbtgt
    svc, _ = response.plan("svc-compromise")
    assert [(x.account, x.action) for x in svc.accounts] == [("svc-sql", "reset")]
    assert "service account" in svc.accounts[0].reason
    spray, _ = response.plan("password-spray")
    assert ("b.kittisak228", "disable") in [(x.account, x.action) for x in spray.accounts]
    assert spray.krbtgt is None
    insider, _ = response.plan("insider-upload")
    assert insider.krbtgt is None
    assert not [b for b in insider.network if b.level == "site"]  # all inside one office


def test_policy_denies_the_intrusion_and_keeps_the_baseline(response: Response) -> None:
    """The tightened entries, put first, deny the intrusion's cross-site paths from the
    source sites and allow every legitimate cross-site event from them before the onset."""
    plan, _ = response.plan(C1)
    hist = response.history(C1)
    inv = response.estate.inventory
    rules = [PolicyRule(**vars(p)) for p in plan.policy]
    policy = inv.policy.model_copy(update={"rules": [*rules, *inv.policy.rules]})
    Inventory(**{**inv.model_dump(), "policy": policy.model_dump()})  # validates
    accounts = {a.user: a for a in inv.accounts}
    src_sites = {p.from_site for p in plan.policy}
    assert src_sites == {"TH-BKK", "ID-JKT", "PH-MNL"}

    def verdict(r: dict[str, object]) -> str:
        return evaluate(
            policy,
            r["src_site"],
            None,
            r["dst_site"],
            r["dst_role"],  # type: ignore[arg-type]
            accounts.get(str(r["user"])),
            r["user"],  # type: ignore[arg-type]
        ).action

    cross = [
        r
        for r in hist.events
        if crosses_network(r)
        and r["src_site"] in src_sites
        and r["dst_site"]
        and r["dst_site"] != r["src_site"]
        and r["user"]
    ]
    mal = [r for r in cross if r["event_id"] in hist.malicious]
    base = [r for r in cross if r["ts"] < hist.onset and r["event_id"] not in hist.malicious]
    assert mal and base
    denied = sum(verdict(r) == "deny" for r in mal) / len(mal)
    allowed = sum(verdict(r) == "allow" for r in base) / len(base)
    assert denied == 1.0
    assert allowed == 1.0


@pytest.mark.parametrize("campaign", ["svc-compromise", "password-spray", "insider-upload"])
def test_other_scenarios_plan(response: Response, campaign: str) -> None:
    plan, rp = response.plan(campaign)
    truth = response.estate.campaigns[campaign]
    assert plan.accounts or plan.network
    assert {a.account for a in plan.accounts} >= set(truth["accounts"])
    for b in plan.network:
        assert set(b.src_hosts) <= set(plan_sources(response, campaign)), b.id
    full = rp.variant(f"{FULL} (accounts over all history)")
    assert full.malicious_stopped > 0


def plan_sources(response: Response, campaign: str) -> list[str]:
    return response.estate.of(campaign).seeds.hosts


def test_intrusion_sources_are_never_the_owners_hosts(response: Response) -> None:
    """Even when the investigation attributes only part of the intruder's work from its source
    workstations, those workstations are neither the owner's "legitimate uses since the onset"
    nor hosts a reset spares, and the labels take the intruder's events from them back."""
    hist = response.history(C1)
    inv = response.estate.of(C1)
    seeds = set(inv.seeds.hosts)
    theirs = {
        r["event_id"]
        for r in hist.events
        if r["user"] == "adm-yamaguchi" and r["src"] in seeds and r["ts"] >= hist.onset
    }
    assert theirs and theirs <= hist.malicious
    missed = replace(hist, malicious=hist.malicious - theirs)  # as if the timeline missed them
    plan = plan_from_history(response.estate.inventory, inv, missed)
    (a,) = plan.accounts
    assert a.owner_hosts == ["jp-tky-ws00001"]
    uses = a.reason.split("still works: ")[1].split(";")[0]
    truth = response.estate.truth_events[C1]
    owners = [
        r
        for r in hist.events
        if r["user"] == "adm-yamaguchi" and r["src"] == "jp-tky-ws00001" and r["ts"] >= hist.onset
    ]
    assert owners and not {r["event_id"] for r in owners} & truth  # the owner's desk: all theirs
    assert uses == f"{len(owners)} legitimate uses since the onset from jp-tky-ws00001", a.reason
    assert f"{len(theirs)} more from the intrusion's source hosts" in a.reason
    assert from_sources(missed.events, seeds, {"adm-yamaguchi"}, hist.onset) == theirs


def test_an_owner_working_at_a_source_host_keeps_their_events(response: Response) -> None:
    """pth-spree starts from x.kato121's own desk: the owner's work there before and after the
    onset is not relabelled as the intruder's (it is only left out of "still works")."""
    hist = response.history("pth-spree")
    truth = response.estate.truth_events["pth-spree"]
    inv = response.estate.of("pth-spree")
    got = from_sources(hist.events, set(inv.seeds.hosts), {"x.kato121"}, hist.onset)
    assert not got - truth
