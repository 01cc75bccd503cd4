"""Replay against ground truth: what each plan variant stops of the intrusion and what
legitimate work it breaks, with the breakage named."""

from __future__ import annotations

from datetime import UTC, datetime

from ashiato.respond.plan import FULL, HOST, ISOLATE, SITE
from tests.respond.conftest import C1, Response

MID = datetime(2026, 9, 20, tzinfo=UTC)
"""A containment time inside c1 (Sep 8 to Sep 30)."""


def test_host_blocks_break_nothing_legitimate_on_c1(response: Response) -> None:
    """The acceptance criterion: at least one variant with zero legitimate events broken."""
    _, rp = response.plan(C1)
    truth = response.estate.truth_events[C1]
    for name in (HOST, SITE, FULL):
        v = rp.variant(name)
        assert v.legitimate_broken == 0, v.explanation
        assert v.explanation == "no legitimate event broken"
    host = rp.variant(HOST)
    # Host blocks stop every intrusion event on a (source, target) path that nothing legitimate
    # used before containment (by the ground truth; the source workstations' own users share
    # the rest): on this estate about a third of the intrusion.
    hist = response.history(C1)
    sources = set(response.estate.of(C1).seeds.hosts)
    before = [r for r in hist.events if r["src"] in sources and r["ts"] < rp_at(response)]
    shared = {(r["src"], r["dst"]) for r in before if r["event_id"] not in truth}
    blockable = [r for r in before if r["event_id"] in truth and (r["src"], r["dst"]) not in shared]
    assert len(blockable) > 100
    assert len(blockable) <= host.malicious_stopped <= len(truth)
    assert host.malicious_total == rp.malicious_events >= len(truth)


def rp_at(response: Response) -> datetime:
    plan, _ = response.plan(C1)
    return plan.at


def test_isolation_breaks_and_says_what(response: Response) -> None:
    """Cutting the source workstations from every host they reached stops almost everything
    and breaks the workstations' own users and machine accounts: each one named."""
    _, rp = response.plan(C1)
    v = rp.variant(ISOLATE)
    assert v.malicious_stopped > rp.variant(HOST).malicious_stopped
    assert v.legitimate_broken > 1000
    assert {"th-bkk-ws00013$", "c.wongsa210"} <= set(v.accounts_affected)
    assert "th-bkk-ws00013$" in v.explanation and "jp-osa-dc01" in v.explanation
    assert not set(v.broken_event_ids) & response.estate.truth_events[C1]


def test_reset_stops_every_windows_event_of_the_intruder(response: Response) -> None:
    """Over all history, the reset of adm-yamaguchi stops every Windows event of c1 (flows
    carry no account) and none of the owner's, who keeps working from jp-tky-ws00001."""
    _, rp = response.plan(C1)
    (a,) = [r for r in rp.rules if r.rule == "A1" and r.window == "all history"]
    assert a.malicious_stopped == len(response.estate.truth_windows[C1])
    assert a.legitimate_broken == 0
    (after,) = [r for r in rp.rules if r.rule == "A1" and r.window == "after T"]
    assert after.malicious_total == 0  # T is the end of the data: nothing after it


def test_containment_mid_campaign(response: Response) -> None:
    """Planned on Sep 20, host blocks keep every path used legitimately until then; the replay
    over all history finds the legitimate use that began after T, all of it named."""
    plan, rp = response.plan(C1, MID)
    hist = response.history(C1)
    truth = response.estate.truth_events[C1]
    by_id = {r["event_id"]: r for r in hist.events}
    host = rp.variant(HOST)
    broken = [by_id[i] for i in host.broken_event_ids]
    assert len(broken) == host.legitimate_broken
    assert all(r["ts"] > MID for r in broken), "nothing before T is broken"
    assert not {r["event_id"] for r in broken} & truth
    for r in broken:
        if r["user"]:
            assert r["user"] in host.explanation
    reset = next(r for r in rp.rules if r.rule == "A1" and r.window == "after T")
    assert reset.malicious_total > 0 and reset.malicious_stopped > 0
    assert reset.legitimate_broken == 0
    full = rp.variant(FULL)
    assert full.malicious_stopped > host.malicious_stopped
    assert plan.at == MID


def test_service_reset_spares_the_service(response: Response) -> None:
    """svc-sql's reset stops the intruder's uses and none of the service's own logons on the
    database servers (local service logons there are spared: the service gets the new password)."""
    plan, rp = response.plan("svc-compromise")
    (a,) = plan.accounts
    assert {"jp-osa-db01", "jp-osa-db02"} <= set(a.local_hosts)
    (r,) = [x for x in rp.rules if x.rule == a.id and x.window == "all history"]
    truth = response.estate.truth_windows["svc-compromise"]
    assert r.legitimate_broken == 0
    assert r.malicious_stopped / len(truth) >= 0.9


def test_disabling_an_ordinary_account_names_its_owner_work(response: Response) -> None:
    """Disabling the sprayed account stops the intruder and, over all history, breaks its
    owner's own work in Bangkok: the replay says exactly that."""
    _, rp = response.plan("password-spray")
    v = rp.variant(f"{FULL} (accounts over all history)")
    assert v.malicious_stopped > 0
    assert v.accounts_affected == ["b.kittisak228"]
    assert all(h.startswith("th-bkk-") for h in v.hosts_affected)
    assert not set(v.broken_event_ids) & response.estate.truth_events["password-spray"]
