"""Incident grouping: acting hosts within the gap and accounts within hours join; nothing else."""

from __future__ import annotations

from datetime import timedelta

from ashiato.detect.incidents import group, hubs, incidents_table, risk
from ashiato.detect.spec import Finding
from tests.conftest import ts


def _f(
    key: str,
    day: int,
    actors: tuple[str, ...],
    score: float = 50,
    det: str = "a",
    *,
    hosts: tuple[str, ...] = ("jp-dc-dc01",),
    accounts: tuple[str, ...] | None = None,
    hour: int = 12,
) -> Finding:
    """A finding; its account is the first actor unless ``accounts`` says otherwise."""
    return Finding(
        detector=det,
        detector_version="1",
        title=key,
        severity="high",
        score=score,
        techniques=("T1078",),
        first_seen=ts(day, hour),
        last_seen=ts(day, hour) + timedelta(hours=1),
        accounts=actors[:1] if accounts is None else accounts,
        hosts=hosts,
        sites=(),
        ips=(),
        reason=key,
        evidence=(key,),
        evidence_count=1,
        key=key,
        actors=actors,
    )


def _groups(findings: list[Finding]) -> list[list[str]]:
    return sorted(sorted(f.key for f in g) for g in group(findings))


def test_group_by_acting_host_and_time() -> None:
    a1 = _f("a1", 1, ("adm", "ws1"))
    a2 = _f("a2", 5, ("x", "ws1"))  # another account from the same host, within 7 days
    b = _f("b", 2, ("bob", "ws9"))  # same destination host only: separate
    late = _f("late", 30, ("x", "ws1"))  # same host and account, weeks later: separate
    assert _groups([a1, a2, b, late]) == [["a1", "a2"], ["b"], ["late"]]


def test_business_trip_and_attack_sharing_only_an_admin_account_stay_apart() -> None:
    # The admin on a trip, from the branch desk, reaching the head office's file server; three
    # days later an outside attacker with the same account, from another host, reaching it too.
    trip = _f("trip", 1, ("adm", "th-ws1"), 40, "policy", hosts=("th-ws1", "jp-fs01"))
    attack = _f("attack", 4, ("adm", "vn-ws7"), 90, "novelty", hosts=("vn-ws7", "jp-fs01"))
    assert _groups([trip, attack]) == [["attack"], ["trip"]]
    t = incidents_table([trip, attack]).to_pylist()
    assert [r["title"] for r in t] == ["attack", "trip"]
    # the same account within hours from the same keyboard, or seen where no keyboard shows (a
    # domain controller's ticket log), is one night's work: joined
    soon = _f("soon", 4, ("adm", "vn-ws7"), 60, "other", hosts=("vn-ws7",), hour=20)
    dc = _f("dc", 4, ("adm",), 55, "tickets", hosts=("jp-dc01",), hour=18)
    assert _groups([trip, attack, soon, dc]) == [["attack", "dc", "soon"], ["trip"]]
    # ... but two keyboards within hours are two places: joined only by a path between them
    desk = _f("desk", 4, ("adm", "jp-adm-desk"), 50, "hours", hosts=("jp-adm-desk",), hour=16)
    assert ["desk"] in _groups([attack, desk])


def test_lateral_chain_with_different_accounts_is_one_incident() -> None:
    ab = _f("ab", 1, ("u1", "host-a"), hosts=("host-a", "host-b"))
    bc = _f("bc", 2, ("u2", "host-b"), hosts=("host-b", "host-c"))
    other = _f("other", 2, ("u3", "host-x"), hosts=("host-x", "host-c"))  # reaches C only
    assert _groups([ab, bc, other]) == [["ab", "bc"], ["other"]]


def test_hubs_link_nothing() -> None:
    # three accounts' findings act from or reach one jump host: it is a hub
    crowd = [_f(f"c{i}", 1, (f"u{i}", "jump01"), hosts=("jump01",)) for i in range(3)]
    assert "jump01" in hubs(crowd)
    assert len(group(crowd)) == 3
    # two accounts (an arrival and a switch) on one foothold are not
    assert "jump01" not in hubs(crowd[:2])
    assert len(group(crowd[:2])) == 1
    # nor is a host named by machine accounts or by the host itself
    machine = [_f(f"m{i}", 1, (f"ws{i}$", "jump01"), hosts=("jump01",)) for i in range(4)]
    assert "jump01" not in hubs([*crowd[:2], *machine])
    # loopback names no host
    local = [_f(f"l{i}", 1, (f"v{i}", "127.0.0.1"), hosts=()) for i in range(2)]
    assert _groups(local) == [["l0"], ["l1"]]


def test_crowd_findings_do_not_link_through_accounts() -> None:
    many = tuple(f"u{i}" for i in range(8))
    crowd = _f("crowd", 1, (), 35, hosts=("jp-dc-dc01",), accounts=many)
    one = _f("one", 1, ("u3", "ws3"), 70)
    assert _groups([crowd, one]) == [["crowd"], ["one"]]
    # nor through accounts a finding names but does not make actors (a standing practice)
    practice = _f("practice", 1, (), 31, accounts=("u3", "u4"))
    assert _groups([practice, one]) == [["one"], ["practice"]]


def test_risk_prefers_independent_detectors() -> None:
    two_kinds = [_f("x", 1, ("a",), 60, "d1"), _f("y", 1, ("a",), 60, "d2")]
    one_kind = [_f(f"z{i}", 1, ("a",), 60, "d1") for i in range(4)]
    assert risk(two_kinds) > risk(one_kind)


def test_one_strong_finding_outranks_a_heap_of_weak_ones() -> None:
    heap = [_f(f"w{i}", 1, ("a",), 45, f"d{i}") for i in range(10)]
    strong = [_f("s", 1, ("b",), 80, "d0")]
    assert risk(strong) > risk(heap) == 45
    # weak, benign-looking findings do not inflate an incident
    assert risk([*strong, *heap]) == risk(strong)


def test_title_is_the_strongest_findings() -> None:
    fs = [
        _f("weak first", 1, ("adm", "ws1"), 30, "d1"),
        _f("strong later", 2, ("adm", "ws1"), 85, "d2"),
        _f("middle", 2, ("adm", "ws1"), 60, "d3"),
    ]
    (row,) = incidents_table(fs).to_pylist()
    assert row["title"] == "strong later"
    assert row["finding_ids"][0] == fs[1].finding_id
    # the id derives from the earliest finding: stable while it stays first
    (again,) = incidents_table(fs[:2]).to_pylist()
    assert again["incident_id"] == row["incident_id"]


def test_table_ranked() -> None:
    t = incidents_table([_f("lo", 1, ("a",), 20), _f("hi", 1, ("b",), 90)])
    assert t.column("risk").to_pylist() == sorted(t.column("risk").to_pylist(), reverse=True)
    assert t.num_rows == 2 and t.column("status").to_pylist() == ["new", "new"]


def test_a_finding_reaching_many_hosts_links_only_through_its_acting_hosts() -> None:
    sweep_hosts = ("admin-pc", *(f"ws{i:02d}" for i in range(30)))  # over max_hosts
    sweep = _f("sweep", 1, ("adm", "admin-pc"), hosts=sweep_hosts)
    sweep = Finding(**{**sweep.__dict__, "last_seen": ts(28)})  # a month of routine admin work
    intruder = _f("intruder", 10, ("eve", "ws07"), 80, "d2", hosts=("ws07", "jp-fs01"))
    same_desk = _f("desk", 12, ("adm", "admin-pc"), 40, "d3", hosts=("admin-pc",))
    assert _groups([sweep, intruder, same_desk]) == [["desk", "sweep"], ["intruder"]]
    # another account at that keyboard is not joined to a month of the admin's routine
    other = _f("other", 12, ("bob", "admin-pc"), 40, "d3", hosts=("admin-pc",))
    assert _groups([sweep, other]) == [["other"], ["sweep"]]


def test_a_path_runs_forward_in_time_and_within_two_days() -> None:
    """Reaching B and then acting from B is a path; acting from B first, or days later, is not."""
    reach = _f("reach", 10, ("u1", "host-a"), hosts=("host-a", "host-b"))
    act_soon = _f("act-soon", 11, ("u2", "host-b"), hosts=("host-b", "host-c"))
    act_later = _f("act-later", 14, ("u3", "host-b"), hosts=("host-b", "host-d"))
    act_before = _f("act-before", 8, ("u4", "host-b"), hosts=("host-b", "host-e"))
    assert _groups([reach, act_soon]) == [["act-soon", "reach"]]
    assert _groups([reach, act_later]) == [["act-later"], ["reach"]]
    assert _groups([reach, act_before]) == [["act-before"], ["reach"]]


def test_only_brief_findings_link_through_an_account() -> None:
    """A month of an admin's share accesses (the account its only actor) says nothing about who
    acted on one night: it does not pull that night's finding in through the account."""
    month = _f("month", 1, ("adm",), 50, "share", hosts=("jp-fs01",))
    month = Finding(**{**month.__dict__, "last_seen": ts(28)})
    night = _f("night", 10, ("adm", "ws07"), 80, "explicit", hosts=("ws07", "jp-db01"))
    later = _f("later", 10, ("adm",), 60, "other", hosts=("jp-dc01",), hour=20)
    assert _groups([month, night, later]) == [["later", "night"], ["month"]]


def test_one_account_acting_from_a_hub_is_the_same_keyboard() -> None:
    """A server many accounts reach is a hub and links nothing, except two findings of one
    account acting from it: that is one credential at one keyboard."""
    crowd = [_f(f"c{i}", 1, (f"u{i}", "jump01"), hosts=("jump01",)) for i in range(3)]
    mine = _f("mine", 3, ("adm", "jump01"), 70, "d2", hosts=("jump01", "jp-db01"))
    again = _f("again", 6, ("adm", "jump01"), 60, "d3", hosts=("jump01", "jp-fs01"))
    assert "jump01" in hubs([*crowd, mine, again])
    groups = _groups([*crowd, mine, again])
    assert ["again", "mine"] in groups and ["c0"] in groups and ["c1"] in groups


def test_rival_actors_keep_the_owners_trip_apart_and_join_the_stronger() -> None:
    """The owner works from a Bangkok desk; hours later an intruder uses the same admin account
    from Tokyo. A concurrent-use finding that saw the owner at the desk (rival actors) names
    the intruder's side: around it the account links nothing, and it joins the intruder."""
    trip = _f("trip", 10, ("adm", "th-desk"), 60, "policy", hosts=("th-desk", "jp-db01"), hour=2)
    intr = _f("intr", 10, ("adm", "jp-ws61"), 90, "hop", hosts=("jp-ws61", "jp-db02"), hour=6)
    seen = _f("seen", 10, ("adm", "10.1.0.61"), 95, "travel", hosts=("th-desk", "jp-ws61"), hour=5)
    rival = Finding(**{**seen.__dict__, "details": {"rival_actors": True}})
    assert _groups([trip, intr, rival]) == [["intr", "seen"], ["trip"]]
    # without the owner's presence known, the finding that names both keyboards joins them
    both = Finding(**{**seen.__dict__, "actors": ("adm", "th-desk", "jp-ws61")})
    assert _groups([trip, intr, both]) == [["intr", "seen", "trip"]]


def test_a_month_long_finding_starts_no_path() -> None:
    """A month of share accesses names the hosts it reached, but not when: a finding acting
    from one of them that month is not on a path from it."""
    month = _f("month", 1, ("adm", "jp-desk"), 50, "share", hosts=("jp-desk", "ws-b"))
    month = Finding(**{**month.__dict__, "last_seen": ts(28)})
    act = _f("act", 12, ("svc-app", "ws-b"), 80, "svc", hosts=("ws-b", "jp-db01"))
    assert _groups([month, act]) == [["act"], ["month"]]
    brief = _f("brief", 11, ("adm", "jp-desk"), 50, "share", hosts=("jp-desk", "ws-b"))
    assert _groups([brief, act]) == [["act", "brief"]]
