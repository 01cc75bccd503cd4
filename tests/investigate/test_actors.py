"""One actor or several: c1 from three offices is one actor; a site shared by two scenarios
splits into two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ashiato.investigate.actors import cluster, sessions
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
    on_c1_host = [s for s in actors.sessions if s.host == "ph-mnl-ws00016"]
    c1 = home[next(s.src for s in on_c1_host if "adm-yamaguchi" in s.accounts)]
    svc = home["ph-mnl-ws00002"]
    assert c1 is not svc
    # whoever else used c1's workstation apart in time (its owner) is not c1's actor
    assert c1.accounts == ["adm-yamaguchi"] and svc.accounts == ["svc-sql"]
    assert any("ph-mnl-ws00016" in s and "ph-mnl-ws00002" in s for s in actors.splits)


def _edges(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    """Credential edges (account, source, target, minutes after 2026-09-01 00:00 UTC)."""
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "event_id": f"e{i}",
                "ts": t0 + timedelta(minutes=m),
                "user": u,
                "src": s,
                "dst": d,
                "logon_type": 3,
                "auth_package": "Kerberos",
            }
            for i, (u, s, d, m) in enumerate(rows)
        ]
    )


def test_one_host_two_pairs_of_hands_are_two_sessions() -> None:
    """The owner uses the PC by day; days later someone uses an admin credential on it at night,
    and switches to a second stolen credential within minutes: two sessions, the second holding
    both stolen credentials."""
    day = 24 * 60
    edges = _edges(
        [
            ("owner", "ws1", "fs1", 9 * 60),
            ("owner", "ws1", "fs1", day + 9 * 60),
            ("adm", "ws1", "dc1", 5 * day + 2 * 60),
            ("svc", "ws1", "db1", 5 * day + 2 * 60 + 20),
            ("adm", "ws1", "fs1", 5 * day + 3 * 60),
            ("owner", "ws1", "fs1", 6 * day + 9 * 60),
        ]
    )
    sess = sessions(edges, edges.column("event_id").to_pylist(), {"ws1"}, {"ws1": "S"})
    by = {tuple(s.accounts): s for s in sess}
    assert set(by) == {("owner",), ("adm", "svc")}
    assert by[("adm", "svc")].src == "ws1 (adm, svc)" and by[("owner",)].events == 3
    assert all(s.host == "ws1" for s in sess)
    actors = cluster(sess)
    assert len(actors.campaigns) == 2


def test_one_host_one_pair_of_hands_keeps_the_host_name() -> None:
    edges = _edges([("adm", "ws1", "dc1", 0), ("svc", "ws1", "db1", 30), ("adm", "ws1", "fs1", 80)])
    sess = sessions(edges, edges.column("event_id").to_pylist(), {"ws1"}, {"ws1": "S"})
    assert [(s.src, s.accounts) for s in sess] == [("ws1", ["adm", "svc"])]
