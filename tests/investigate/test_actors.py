"""One actor or several: c1 from three offices is one actor; a site shared by two scenarios
splits into two."""

from __future__ import annotations

from tests.investigate.conftest import Estate

C1 = "c1-valid-admin-th-id-ph"


def test_c1_is_one_actor_across_three_offices(estate: Estate) -> None:
    actors = estate.of(C1).actors
    assert actors is not None
    assert len(actors.campaigns) == 1
    c = actors.campaigns[0]
    assert set(c.sites) == {"TH-BKK", "ID-JKT", "PH-MNL"}
    assert set(c.sessions) == set(estate.campaigns[C1]["src_hosts"])
    assert c.accounts == estate.campaigns[C1]["accounts"]
    assert len(actors.merges) == 3 and all("same credential" in m for m in actors.merges)
    for s in actors.sessions:
        assert sum(s.hours) == s.events


def test_chain_through_a_server_is_one_actor(estate: Estate) -> None:
    """svc-sql RDPs into jp-osa-db02 from Manila and moves on from there: one actor, and the
    merge names the hop chain."""
    actors = estate.of("svc-compromise").actors
    assert actors is not None and len(actors.campaigns) == 1
    assert set(actors.campaigns[0].sessions) == {"ph-mnl-ws00002", "jp-osa-db02"}
    assert "ph-mnl-ws00002 reached jp-osa-db02" in actors.merges[0]


def test_host_spanning_three_scenarios_splits(estate: Estate) -> None:
    """jp-osa-db02 is reached by c1, by slow-and-low's account and is svc-compromise's pivot:
    reaching the same server does not make one actor."""
    actors = estate.investigate("host", "jp-osa-db02").actors
    assert actors is not None
    by_account = {tuple(c.accounts): set(c.sessions) for c in actors.campaigns}
    assert by_account[("adm-yamaguchi",)] <= set(estate.campaigns[C1]["src_hosts"])
    assert by_account[("svc-sql",)] == {"ph-mnl-ws00002", "jp-osa-db02"}
    assert len(actors.campaigns) >= 2


def test_site_spanning_two_scenarios_splits(estate: Estate) -> None:
    """PH-MNL holds a c1 workstation and the svc-compromise workstation: two campaigns."""
    actors = estate.investigate("site", "PH-MNL").actors
    assert actors is not None
    home = {s: c for c in actors.campaigns for s in c.sessions}
    c1 = home["ph-mnl-ws00016"]
    svc = home["ph-mnl-ws00002"]
    assert c1 is not svc
    assert c1.accounts == ["adm-yamaguchi"] and svc.accounts == ["svc-sql"]
    assert any("ph-mnl-ws00016" in s and "ph-mnl-ws00002" in s for s in actors.splits)
