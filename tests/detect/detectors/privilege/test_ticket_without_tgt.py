"""Golden samples for privilege.ticket_without_tgt, built from synthetic 4768/4769/4624 events."""

from __future__ import annotations

from datetime import datetime

from ashiato.detect.runner import detect
from tests.conftest import event, ts

DET = ["privilege.ticket_without_tgt"]
DESK, FOREIGN, OTHER, DC = "10.1.0.101", "10.3.0.102", "10.3.0.101", "10.2.0.10"


def tgt(at: datetime, user: str, ip: str) -> dict:
    return event(
        ts=at, kind="kerberos_tgt", event_code=4768, user=user, src_ip=ip, logon_type=None,
        auth_package="Kerberos", service="krbtgt", dst_host="jp-dc-dc01", log_host="jp-dc-dc01",
    )  # fmt: skip


def tgs(at: datetime, user: str, ip: str, host: str = "jp-dc-fs01") -> dict:
    return event(
        ts=at, kind="kerberos_service", event_code=4769, user=user, src_ip=ip, logon_type=None,
        auth_package="Kerberos", service=f"{host}$", dst_host=host, log_host="jp-dc-dc01",
    )  # fmt: skip


def net(at: datetime, user: str, ip: str, host: str = "jp-dc-fs01", auth: str = "Kerberos") -> dict:
    return event(
        ts=at, user=user, src_ip=ip, logon_type=3, auth_package=auth, dst_host=host, log_host=host
    )


def _estate() -> list[dict]:
    """The first morning: machines and the DC itself ask for tickets (each address starts)."""
    return [
        tgt(ts(1, 0, 30), "jp-tky-ws001$", DESK),
        tgt(ts(1, 0, 31), "th-bkk-ws002$", FOREIGN),
        tgs(ts(1, 0, 32), "jp-dc-dc01$", DC, "jp-dc-dc01"),
        tgs(ts(1, 0, 33), "th-bkk-ws002$", FOREIGN, "jp-dc-dc01"),
    ]


SIGNATURE = {DET[0]: {"renewal_days": 0, "own_address_days": 0}}
"""The signature alone: a TGT counts for its 10 h lifetime, an address is blind for 10 h."""


def _run(inventory, write_events, rows: list[dict], params=SIGNATURE) -> list[dict]:
    return detect(write_events(rows), inventory, detectors=DET, params=params).findings.to_pylist()


def test_positive_ticket_from_a_foreign_workstation_then_logons(inventory, write_events) -> None:
    rows = _estate()
    rows += [
        # the owner at their own desk: a TGT there, ordinary work
        tgt(ts(3, 0, 50), "t.suzuki", DESK),
        tgs(ts(3, 0, 51), "t.suzuki", DESK),
        net(ts(3, 0, 52), "t.suzuki", DESK),
        # the stolen ticket on th-bkk-ws002: no 4768 for t.suzuki from there, no logon there
        tgs(ts(3, 1, 0), "t.suzuki", FOREIGN),
        net(ts(3, 1, 1), "t.suzuki", FOREIGN),
        net(ts(3, 3, 0), "t.suzuki", FOREIGN, "jp-dc-dc01"),  # too late to count
    ]
    f = _run(inventory, write_events, rows)
    assert len(f) == 1, f
    r = f[0]
    # the ticket and the logon that followed it; the runner follows the credential on to the
    # later logon from the same host (e000009), which the detector itself does not count
    assert r["evidence"][:2] == ["e000007", "e000008"]
    assert r["score"] == 90.0 and r["severity"] == "critical"  # 70, +15 logons, +5 file server
    assert "requested from 10.3.0.102 (th-bkk-ws002)" in r["reason"]
    assert "then 1 network logon(s) as t.suzuki from 10.3.0.102 to jp-dc-fs01" in r["reason"]
    assert r["technique"] == ["T1550.003"]
    assert "jp-dc-dc01" in r["entities"]["hosts"]  # the KDC that issued them

    # without an inventory: the same finding, the host unnamed
    f = _run(None, write_events, rows)
    assert len(f) == 1 and "requested from 10.3.0.102 on" in f[0]["reason"]


def test_positive_many_tickets_on_their_own(inventory, write_events) -> None:
    rows = [*_estate(), tgt(ts(2, 1), "s.chai", DESK)]  # s.chai's TGTs are in the store
    rows += [tgs(ts(3, 1, m), "s.chai", FOREIGN, f"srv{m}") for m in range(3)]
    f = _run(inventory, write_events, rows)
    assert len(f) == 1 and "no network logon from that address followed" in f[0]["reason"]
    assert _run(inventory, write_events, rows[:-1]) == []  # two are below min_tickets


def test_negative_tgt_present_owner_logon_machines_dc_ntlm(inventory, write_events) -> None:
    rows = _estate()
    rows += [
        # normal: the TGT from the same address nine hours earlier
        tgt(ts(3, 0, 0), "t.suzuki", DESK),
        *(tgs(ts(3, 9, m), "t.suzuki", DESK, f"srv{m}") for m in range(4)),
        net(ts(3, 9, 5), "t.suzuki", DESK),
        # s.chai logged on at th-bkk-ws002 (its TGT logged on a DC we do not have)
        event(ts=ts(3, 2), user="s.chai", logon_type=2, dst_host="th-bkk-ws002"),
        *(tgs(ts(3, 3, m), "s.chai", FOREIGN, f"srv{m}") for m in range(4)),
        net(ts(3, 3, 5), "s.chai", FOREIGN),
        # machine accounts, and the DC asking for itself
        *(tgs(ts(3, 4, m), "th-bkk-ws002$", FOREIGN, f"srv{m}") for m in range(4)),
        *(tgs(ts(3, 5, m), "adm-sato", DC, f"srv{m}") for m in range(4)),
        net(ts(3, 5, 5), "adm-sato", DC),
        # an NTLM logon says nothing about tickets
        tgs(ts(3, 6), "adm-sato", FOREIGN),
        net(ts(3, 6, 1), "adm-sato", FOREIGN, auth="NTLM"),
    ]
    assert _run(inventory, write_events, rows) == []


def test_negative_tgt_before_the_data_starts(inventory, write_events) -> None:
    """10.3.0.101's first Kerberos event is s.chai's ticket: its TGT may predate the data."""
    rows = [
        *_estate(),
        tgt(ts(1, 0, 45), "s.chai", DESK),
        tgs(ts(1, 1), "s.chai", OTHER),
        net(ts(1, 1, 1), "s.chai", OTHER),
        *(tgs(ts(1, 10, m), "s.chai", OTHER, f"srv{m}") for m in range(4)),  # 9 h later
    ]
    assert _run(inventory, write_events, rows) == []
    rows += [tgs(ts(1, 11, 30), "s.chai", OTHER), net(ts(1, 11, 31), "s.chai", OTHER)]
    f = _run(inventory, write_events, rows)  # past the first lifetime: judged
    assert len(f) == 1 and f[0]["first_seen"] == ts(1, 11, 30)


def test_defaults_renewal_own_machine_and_unlogged_accounts(inventory, write_events) -> None:
    """By default a TGT counts for its renewable life (7 days; renewals, 4770, are not read),
    an address where the account got a TGT in the last 30 days is its own, and an account
    whose TGTs the store never showed before is not judged."""
    rows = _estate()
    rows += [
        tgt(ts(2, 1), "t.suzuki", DESK),  # at the desk on day 2, then tickets for days
        *(tgs(ts(9, 1, m), "t.suzuki", DESK, f"srv{m}") for m in range(4)),  # renewed TGT
        *(tgs(ts(20, 1, m), "t.suzuki", DESK, f"srv{m}") for m in range(4)),  # own desk
        *(tgs(ts(20, 2, m), "s.chai", FOREIGN, f"srv{m}") for m in range(4)),  # no TGT known
    ]
    assert _run(inventory, write_events, rows, params=None) == []
    got = {(r["entities"]["accounts"][0], r["first_seen"].day) for r in
           _run(inventory, write_events, rows)}  # fmt: skip
    assert got == {("t.suzuki", 9), ("t.suzuki", 20)}
    # A foreign workstation: still found by default once s.chai's TGTs are in the store.
    rows += [
        tgt(ts(12), "s.chai", OTHER),
        *(tgs(ts(20, 3, m), "s.chai", FOREIGN) for m in range(3)),
    ]
    f = _run(inventory, write_events, rows, params=None)
    assert [(r["entities"]["accounts"][0], r["first_seen"]) for r in f] == [("s.chai", ts(20, 2))]


def _midnight_tickets() -> list[dict]:
    rows = _estate()
    rows += [tgt(ts(1, 1), "t.suzuki", DESK), tgt(ts(2, 1), "s.chai", DESK)]
    rows += [tgt(ts(2, 2), "adm-sato", DESK)]
    # a stolen ticket at 23:50, its logon after midnight
    rows += [tgs(ts(3, 23, 50), "t.suzuki", FOREIGN), net(ts(4, 0, 10), "t.suzuki", FOREIGN)]
    rows.append(tgs(ts(4, 9), "t.suzuki", DESK))  # day 4 has events of its own
    # three tickets just before midnight, the TGT logged a moment after it: ordinary
    rows += [tgs(ts(5, 23, 56 + m), "s.chai", FOREIGN, f"srv{m}") for m in range(3)]
    rows.append(tgt(ts(6, 0, 1), "s.chai", FOREIGN))
    # three tickets at 10:00: judged on their own day
    rows += [tgs(ts(7, 10, m), "adm-sato", FOREIGN, f"srv{m}") for m in range(3)]
    return rows


def test_day_by_day_equals_batch(inventory, tmp_path) -> None:
    """Tickets close to midnight wait for the next day: the logon that follows after midnight
    counts, and so does a TGT logged just after midnight (it clears them). Daily runs, and day 4
    delivered only after day 5 was judged, leave what one batch run leaves."""
    from tests.detect.foldcheck import runs, seen

    late = ("2026-09-04", "2026-09-05")
    got = runs(tmp_path, _midnight_tickets(), inventory, DET, SIGNATURE, late=late)
    batch = sorted(got["batch"].findings.to_pylist(), key=lambda r: r["first_seen"])
    assert [(r["entities"]["accounts"][0], r["first_seen"]) for r in batch] == [
        ("t.suzuki", ts(3, 23, 50)),
        ("adm-sato", ts(7, 10)),
    ]
    assert "then 1 network logon(s) as t.suzuki" in batch[0]["reason"]
    assert batch[0]["last_seen"] == ts(4, 0, 10)
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])


def test_the_staged_candidates_give_what_inline_candidates_give(
    inventory, tmp_path, monkeypatch
) -> None:
    """The candidate tickets are made once per slice (a stage) for the query and the waiting
    fold; built inline in each instead, every run finds the same."""
    from ashiato.detect.detectors.privilege import ticket_without_tgt
    from tests.detect.foldcheck import runs, seen

    rows = _midnight_tickets()
    staged = runs(tmp_path / "staged", rows, inventory, DET, SIGNATURE)
    monkeypatch.setattr(ticket_without_tgt, "STAGES", {})
    inline = runs(tmp_path / "inline", rows, inventory, DET, SIGNATURE)
    assert staged["batch"].findings.num_rows == 2
    for how in ("batch", "daily"):
        assert seen(staged[how]) == seen(inline[how]), how


def test_a_slices_earlier_days_clear_and_its_later_days_do_not(inventory, tmp_path) -> None:
    """Days judged in one slice know the slice's earlier days, never its later ones: s.chai's
    logon at th-bkk-ws002 and adm-sato's TGT from there two days before clear their tickets;
    t.suzuki's TGT from there the day after does not. Day 2 delivered late changes the verdict
    on day 4 back to the batch's."""
    from tests.detect.foldcheck import runs, seen

    rows = _estate()
    rows += [tgt(ts(1, 2), u, DESK) for u in ("s.chai", "adm-sato", "t.suzuki")]
    rows += [
        event(ts=ts(2, 2), user="s.chai", logon_type=2, dst_host="th-bkk-ws002"),
        tgt(ts(2, 3), "adm-sato", FOREIGN),
    ]
    for i, user in enumerate(("s.chai", "adm-sato", "t.suzuki")):
        rows += [tgs(ts(4, 3 + i, m), user, FOREIGN, f"srv{m}") for m in range(3)]
    rows.append(tgt(ts(5, 1), "t.suzuki", FOREIGN))
    params = {DET[0]: {"renewal_days": 0, "own_address_days": 3}}  # clears for 72 h
    got = runs(tmp_path, rows, inventory, DET, params, late=("2026-09-02", "2026-09-04"))
    batch = got["batch"].findings.to_pylist()
    assert [(r["entities"]["accounts"][0], r["first_seen"]) for r in batch] == [
        ("t.suzuki", ts(4, 5))
    ]
    assert seen(got["daily"]) == seen(got["batch"])
    assert seen(got["late"]) == seen(got["batch"])
